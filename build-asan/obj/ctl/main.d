build-asan/obj/ctl/main.o: ctl/main.c /usr/include/cjson/cJSON.h \
 ctl/ctl.h ctl/format.h lib/macro.h lib/proto.h lib/version.h
/usr/include/cjson/cJSON.h:
ctl/ctl.h:
ctl/format.h:
lib/macro.h:
lib/proto.h:
lib/version.h:
