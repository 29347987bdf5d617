build-asan/obj/lib/proto.o: lib/proto.c /usr/include/cjson/cJSON.h \
 lib/macro.h lib/jsonutil.h lib/proto.h
/usr/include/cjson/cJSON.h:
lib/macro.h:
lib/jsonutil.h:
lib/proto.h:
