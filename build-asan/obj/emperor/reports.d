build-asan/obj/emperor/reports.o: emperor/reports.c lib/acceptor.h \
 emperor/instance.h emperor/manager.h emperor/spawn.h emperor/scan.h \
 lib/vstats.h /usr/include/cjson/cJSON.h lib/log.h lib/macro.h \
 emperor/reports.h
lib/acceptor.h:
emperor/instance.h:
emperor/manager.h:
emperor/spawn.h:
emperor/scan.h:
lib/vstats.h:
/usr/include/cjson/cJSON.h:
lib/log.h:
lib/macro.h:
emperor/reports.h:
