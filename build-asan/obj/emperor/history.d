build-asan/obj/emperor/history.o: emperor/history.c emperor/history.h \
 emperor/instance.h emperor/manager.h emperor/spawn.h emperor/scan.h \
 lib/vstats.h /usr/include/cjson/cJSON.h lib/macro.h lib/log.h \
 store/store.h
emperor/history.h:
emperor/instance.h:
emperor/manager.h:
emperor/spawn.h:
emperor/scan.h:
lib/vstats.h:
/usr/include/cjson/cJSON.h:
lib/macro.h:
lib/log.h:
store/store.h:
