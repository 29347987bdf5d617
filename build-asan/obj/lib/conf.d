build-asan/obj/lib/conf.o: lib/conf.c lib/conf.h lib/ini.h lib/macro.h
lib/conf.h:
lib/ini.h:
lib/macro.h:
