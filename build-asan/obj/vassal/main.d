build-asan/obj/vassal/main.o: vassal/main.c vassal/config.h lib/conf.h \
 lib/ini.h lib/macro.h vassal/daemon.h lib/exitcodes.h lib/log.h \
 vassal/master.h lib/version.h vassal/reload.h vassal/socket.h
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/macro.h:
vassal/daemon.h:
lib/exitcodes.h:
lib/log.h:
vassal/master.h:
lib/version.h:
vassal/reload.h:
vassal/socket.h:
