build-asan/obj/emperor/ops.o: emperor/ops.c emperor/cgroup.h lib/log.h \
 lib/macro.h emperor/ops.h emperor/manager.h emperor/spawn.h
emperor/cgroup.h:
lib/log.h:
lib/macro.h:
emperor/ops.h:
emperor/manager.h:
emperor/spawn.h:
