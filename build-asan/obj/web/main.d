build-asan/obj/web/main.o: web/main.c web/auth.h lib/http.h web/fleet.h \
 /usr/include/cjson/cJSON.h lib/log.h lib/macro.h web/server.h \
 lib/sockutil.h lib/users.h lib/version.h web/webapi.h
web/auth.h:
lib/http.h:
web/fleet.h:
/usr/include/cjson/cJSON.h:
lib/log.h:
lib/macro.h:
web/server.h:
lib/sockutil.h:
lib/users.h:
lib/version.h:
web/webapi.h:
