build-asan/obj/emperor/cgroup.o: emperor/cgroup.c emperor/cgroup.h \
 lib/log.h lib/macro.h
emperor/cgroup.h:
lib/log.h:
lib/macro.h:
