build-asan/obj/emperor/instance.o: emperor/instance.c lib/backoff.h \
 emperor/cgroup.h emperor/check.h emperor/manager.h emperor/spawn.h \
 emperor/history.h emperor/instance.h emperor/scan.h lib/vstats.h \
 /usr/include/cjson/cJSON.h lib/macro.h lib/log.h emperor/notify.h \
 emperor/socks.h lib/vini.h lib/conf.h lib/ini.h lib/users.h
lib/backoff.h:
emperor/cgroup.h:
emperor/check.h:
emperor/manager.h:
emperor/spawn.h:
emperor/history.h:
emperor/instance.h:
emperor/scan.h:
lib/vstats.h:
/usr/include/cjson/cJSON.h:
lib/macro.h:
lib/log.h:
emperor/notify.h:
emperor/socks.h:
lib/vini.h:
lib/conf.h:
lib/ini.h:
lib/users.h:
