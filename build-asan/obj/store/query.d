build-asan/obj/store/query.o: store/query.c /usr/include/cjson/cJSON.h \
 store/block.h lib/duration.h lib/macro.h store/query.h
/usr/include/cjson/cJSON.h:
store/block.h:
lib/duration.h:
lib/macro.h:
store/query.h:
