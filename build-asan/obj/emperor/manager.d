build-asan/obj/emperor/manager.o: emperor/manager.c emperor/cgroup.h \
 emperor/control.h emperor/history.h emperor/instance.h emperor/manager.h \
 emperor/spawn.h emperor/scan.h lib/vstats.h /usr/include/cjson/cJSON.h \
 lib/macro.h lib/log.h emperor/reports.h emperor/ops.h
emperor/cgroup.h:
emperor/control.h:
emperor/history.h:
emperor/instance.h:
emperor/manager.h:
emperor/spawn.h:
emperor/scan.h:
lib/vstats.h:
/usr/include/cjson/cJSON.h:
lib/macro.h:
lib/log.h:
emperor/reports.h:
emperor/ops.h:
