build-asan/obj/emperor/socks.o: emperor/socks.c lib/macro.h \
 lib/sockutil.h emperor/socks.h lib/vini.h lib/conf.h lib/ini.h
lib/macro.h:
lib/sockutil.h:
emperor/socks.h:
lib/vini.h:
lib/conf.h:
lib/ini.h:
