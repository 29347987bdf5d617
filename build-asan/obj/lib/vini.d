build-asan/obj/lib/vini.o: lib/vini.c lib/ini.h lib/macro.h lib/vini.h \
 lib/conf.h lib/vkeys.h
lib/ini.h:
lib/macro.h:
lib/vini.h:
lib/conf.h:
lib/vkeys.h:
