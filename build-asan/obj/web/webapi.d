build-asan/obj/web/webapi.o: web/webapi.c lib/duration.h lib/http.h \
 lib/jsonutil.h /usr/include/cjson/cJSON.h lib/macro.h lib/proto.h \
 store/query.h web/webapi.h
lib/duration.h:
lib/http.h:
lib/jsonutil.h:
/usr/include/cjson/cJSON.h:
lib/macro.h:
lib/proto.h:
store/query.h:
web/webapi.h:
