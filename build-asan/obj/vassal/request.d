build-asan/obj/vassal/request.o: vassal/request.c lib/log.h lib/macro.h \
 vassal/request.h lib/http.h vassal/socket.h lib/uwsgi.h
lib/log.h:
lib/macro.h:
vassal/request.h:
lib/http.h:
vassal/socket.h:
lib/uwsgi.h:
