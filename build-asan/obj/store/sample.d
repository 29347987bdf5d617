build-asan/obj/store/sample.o: store/sample.c /usr/include/cjson/cJSON.h \
 store/store.h lib/vstats.h
/usr/include/cjson/cJSON.h:
store/store.h:
lib/vstats.h:
