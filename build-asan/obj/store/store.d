build-asan/obj/store/store.o: store/store.c lib/log.h lib/macro.h \
 store/store-internal.h store/block.h store/store.h \
 /usr/include/cjson/cJSON.h lib/vstats.h
lib/log.h:
lib/macro.h:
store/store-internal.h:
store/block.h:
store/store.h:
/usr/include/cjson/cJSON.h:
lib/vstats.h:
