build-asan/obj/emperor/main.o: emperor/main.c lib/conf.h lib/ini.h \
 lib/macro.h lib/duration.h emperor/instance.h emperor/manager.h \
 emperor/spawn.h emperor/scan.h lib/vstats.h /usr/include/cjson/cJSON.h \
 lib/log.h store/store.h emperor/webproc.h lib/version.h
lib/conf.h:
lib/ini.h:
lib/macro.h:
lib/duration.h:
emperor/instance.h:
emperor/manager.h:
emperor/spawn.h:
emperor/scan.h:
lib/vstats.h:
/usr/include/cjson/cJSON.h:
lib/log.h:
store/store.h:
emperor/webproc.h:
lib/version.h:
