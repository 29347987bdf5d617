build-asan/obj/vassal/reload.o: vassal/reload.c lib/log.h lib/macro.h \
 vassal/reload.h vassal/socket.h
lib/log.h:
lib/macro.h:
vassal/reload.h:
vassal/socket.h:
