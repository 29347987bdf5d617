build-asan/obj/emperor/scan.o: emperor/scan.c lib/log.h lib/macro.h \
 lib/proto.h emperor/scan.h
lib/log.h:
lib/macro.h:
lib/proto.h:
emperor/scan.h:
