build-asan/obj/web/server.o: web/server.c lib/acceptor.h web/assets.h \
 web/auth.h lib/http.h web/buf.h lib/macro.h lib/jsonutil.h \
 /usr/include/cjson/cJSON.h lib/log.h web/metrics.h lib/proto.h \
 web/server.h web/fleet.h web/webapi.h
lib/acceptor.h:
web/assets.h:
web/auth.h:
lib/http.h:
web/buf.h:
lib/macro.h:
lib/jsonutil.h:
/usr/include/cjson/cJSON.h:
lib/log.h:
web/metrics.h:
lib/proto.h:
web/server.h:
web/fleet.h:
web/webapi.h:
