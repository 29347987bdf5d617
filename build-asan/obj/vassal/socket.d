build-asan/obj/vassal/socket.o: vassal/socket.c vassal/config.h \
 lib/conf.h lib/ini.h lib/macro.h lib/log.h vassal/socket.h \
 lib/sockutil.h
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/macro.h:
lib/log.h:
vassal/socket.h:
lib/sockutil.h:
