build-asan/obj/vassal/guard.o: vassal/guard.c vassal/guard.h \
 vassal/config.h lib/conf.h lib/ini.h lib/macro.h vassal/scoreboard.h \
 vassal/socket.h lib/log.h
vassal/guard.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/macro.h:
vassal/scoreboard.h:
vassal/socket.h:
lib/log.h:
