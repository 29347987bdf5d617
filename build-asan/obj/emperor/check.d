build-asan/obj/emperor/check.o: emperor/check.c emperor/check.h \
 emperor/manager.h emperor/spawn.h emperor/ops.h
emperor/check.h:
emperor/manager.h:
emperor/spawn.h:
emperor/ops.h:
