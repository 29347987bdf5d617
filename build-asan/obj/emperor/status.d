build-asan/obj/emperor/status.o: emperor/status.c lib/macro.h \
 emperor/status.h /usr/include/cjson/cJSON.h emperor/instance.h \
 emperor/manager.h emperor/spawn.h emperor/scan.h lib/vstats.h \
 store/store.h
lib/macro.h:
emperor/status.h:
/usr/include/cjson/cJSON.h:
emperor/instance.h:
emperor/manager.h:
emperor/spawn.h:
emperor/scan.h:
lib/vstats.h:
store/store.h:
