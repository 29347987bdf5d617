build-asan/obj/store/maintain.o: store/maintain.c lib/log.h lib/macro.h \
 store/store-internal.h store/block.h store/store.h \
 /usr/include/cjson/cJSON.h lib/vstats.h
lib/log.h:
lib/macro.h:
store/store-internal.h:
store/block.h:
store/store.h:
/usr/include/cjson/cJSON.h:
lib/vstats.h:
