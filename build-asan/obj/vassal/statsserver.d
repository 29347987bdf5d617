build-asan/obj/vassal/statsserver.o: vassal/statsserver.c lib/acceptor.h \
 lib/log.h lib/macro.h vassal/master.h vassal/config.h lib/conf.h \
 lib/ini.h lib/version.h lib/sockutil.h vassal/statsserver.h \
 vassal/guard.h vassal/scoreboard.h vassal/socket.h
lib/acceptor.h:
lib/log.h:
lib/macro.h:
vassal/master.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/version.h:
lib/sockutil.h:
vassal/statsserver.h:
vassal/guard.h:
vassal/scoreboard.h:
vassal/socket.h:
