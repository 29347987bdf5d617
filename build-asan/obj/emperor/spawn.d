build-asan/obj/emperor/spawn.o: emperor/spawn.c lib/macro.h \
 emperor/spawn.h
lib/macro.h:
emperor/spawn.h:
