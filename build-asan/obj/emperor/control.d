build-asan/obj/emperor/control.o: emperor/control.c lib/acceptor.h \
 emperor/control.h emperor/instance.h emperor/manager.h emperor/spawn.h \
 emperor/scan.h lib/vstats.h /usr/include/cjson/cJSON.h emperor/status.h \
 lib/log.h lib/macro.h lib/proto.h
lib/acceptor.h:
emperor/control.h:
emperor/instance.h:
emperor/manager.h:
emperor/spawn.h:
emperor/scan.h:
lib/vstats.h:
/usr/include/cjson/cJSON.h:
emperor/status.h:
lib/log.h:
lib/macro.h:
lib/proto.h:
