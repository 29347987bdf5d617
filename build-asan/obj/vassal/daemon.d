build-asan/obj/vassal/daemon.o: vassal/daemon.c vassal/daemon.h \
 vassal/config.h lib/conf.h lib/ini.h lib/macro.h lib/exitcodes.h \
 lib/log.h
vassal/daemon.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/macro.h:
lib/exitcodes.h:
lib/log.h:
