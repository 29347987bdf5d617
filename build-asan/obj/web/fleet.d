build-asan/obj/web/fleet.o: web/fleet.c web/fleet.h \
 /usr/include/cjson/cJSON.h lib/jsonutil.h lib/log.h lib/macro.h \
 lib/proto.h
web/fleet.h:
/usr/include/cjson/cJSON.h:
lib/jsonutil.h:
lib/log.h:
lib/macro.h:
lib/proto.h:
