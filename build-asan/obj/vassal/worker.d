build-asan/obj/vassal/worker.o: vassal/worker.c vassal/gevent.h \
 vassal/worker.h vassal/config.h lib/conf.h lib/ini.h lib/macro.h \
 vassal/scoreboard.h vassal/socket.h vassal/conn.h lib/http.h \
 vassal/request.h lib/uwsgi.h vassal/guard.h lib/log.h vassal/wsgi.h
vassal/gevent.h:
vassal/worker.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/macro.h:
vassal/scoreboard.h:
vassal/socket.h:
vassal/conn.h:
lib/http.h:
vassal/request.h:
lib/uwsgi.h:
vassal/guard.h:
lib/log.h:
vassal/wsgi.h:
