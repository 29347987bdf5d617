build-asan/obj/vassal/conn.o: vassal/conn.c vassal/conn.h vassal/config.h \
 lib/conf.h lib/ini.h lib/macro.h lib/http.h vassal/request.h \
 vassal/socket.h lib/uwsgi.h vassal/guard.h vassal/scoreboard.h lib/log.h
vassal/conn.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/macro.h:
lib/http.h:
vassal/request.h:
vassal/socket.h:
lib/uwsgi.h:
vassal/guard.h:
vassal/scoreboard.h:
lib/log.h:
