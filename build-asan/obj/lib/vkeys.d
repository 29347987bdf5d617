build-asan/obj/lib/vkeys.o: lib/vkeys.c lib/macro.h lib/vkeys.h \
 lib/conf.h lib/ini.h
lib/macro.h:
lib/vkeys.h:
lib/conf.h:
lib/ini.h:
