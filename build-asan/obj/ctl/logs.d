build-asan/obj/ctl/logs.o: ctl/logs.c /usr/include/cjson/cJSON.h \
 ctl/ctl.h ctl/format.h lib/macro.h lib/vini.h lib/conf.h lib/ini.h \
 lib/vkeys.h lib/jsonutil.h ctl/logs.h store/query.h
/usr/include/cjson/cJSON.h:
ctl/ctl.h:
ctl/format.h:
lib/macro.h:
lib/vini.h:
lib/conf.h:
lib/ini.h:
lib/vkeys.h:
lib/jsonutil.h:
ctl/logs.h:
store/query.h:
