build-asan/obj/ctl/top.o: ctl/top.c /usr/include/cjson/cJSON.h ctl/ctl.h \
 ctl/format.h lib/macro.h lib/jsonutil.h ctl/top.h
/usr/include/cjson/cJSON.h:
ctl/ctl.h:
ctl/format.h:
lib/macro.h:
lib/jsonutil.h:
ctl/top.h:
