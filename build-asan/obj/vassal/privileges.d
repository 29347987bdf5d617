build-asan/obj/vassal/privileges.o: vassal/privileges.c lib/log.h \
 lib/macro.h vassal/privileges.h lib/users.h
lib/log.h:
lib/macro.h:
vassal/privileges.h:
lib/users.h:
