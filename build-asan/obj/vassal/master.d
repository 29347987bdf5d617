build-asan/obj/vassal/master.o: vassal/master.c vassal/cputime.h \
 vassal/daemon.h vassal/config.h lib/conf.h lib/ini.h lib/macro.h \
 vassal/exec.h vassal/socket.h lib/exitcodes.h vassal/guard.h \
 vassal/scoreboard.h lib/log.h vassal/logger.h vassal/master.h \
 lib/version.h vassal/privileges.h lib/users.h vassal/reload.h \
 vassal/report.h vassal/statsserver.h vassal/worker.h vassal/wsgi.h \
 vassal/request.h lib/http.h lib/uwsgi.h
vassal/cputime.h:
vassal/daemon.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
lib/macro.h:
vassal/exec.h:
vassal/socket.h:
lib/exitcodes.h:
vassal/guard.h:
vassal/scoreboard.h:
lib/log.h:
vassal/logger.h:
vassal/master.h:
lib/version.h:
vassal/privileges.h:
lib/users.h:
vassal/reload.h:
vassal/report.h:
vassal/statsserver.h:
vassal/worker.h:
vassal/wsgi.h:
vassal/request.h:
lib/http.h:
lib/uwsgi.h:
