build-asan/obj/lib/vstats.o: lib/vstats.c lib/jsonutil.h \
 /usr/include/cjson/cJSON.h lib/macro.h lib/vstats.h
lib/jsonutil.h:
/usr/include/cjson/cJSON.h:
lib/macro.h:
lib/vstats.h:
