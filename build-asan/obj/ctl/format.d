build-asan/obj/ctl/format.o: ctl/format.c ctl/format.h \
 /usr/include/cjson/cJSON.h lib/macro.h lib/proto.h
ctl/format.h:
/usr/include/cjson/cJSON.h:
lib/macro.h:
lib/proto.h:
