build-asan/obj/ctl/history.o: ctl/history.c /usr/include/cjson/cJSON.h \
 ctl/ctl.h ctl/format.h lib/macro.h lib/duration.h lib/jsonutil.h \
 store/query.h
/usr/include/cjson/cJSON.h:
ctl/ctl.h:
ctl/format.h:
lib/macro.h:
lib/duration.h:
lib/jsonutil.h:
store/query.h:
