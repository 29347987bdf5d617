build-asan/obj/vassal/config.o: vassal/config.c lib/conf.h lib/ini.h \
 lib/macro.h vassal/config.h vassal/exec.h vassal/socket.h lib/log.h \
 lib/sockutil.h lib/users.h lib/vkeys.h
lib/conf.h:
lib/ini.h:
lib/macro.h:
vassal/config.h:
vassal/exec.h:
vassal/socket.h:
lib/log.h:
lib/sockutil.h:
lib/users.h:
lib/vkeys.h:
