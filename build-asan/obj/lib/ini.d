build-asan/obj/lib/ini.o: lib/ini.c lib/ini.h lib/macro.h
lib/ini.h:
lib/macro.h:
