build-asan/obj/vassal/exec.o: vassal/exec.c vassal/exec.h vassal/socket.h \
 lib/log.h lib/macro.h
vassal/exec.h:
vassal/socket.h:
lib/log.h:
lib/macro.h:
