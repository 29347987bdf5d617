build-asan/obj/lib/sockutil.o: lib/sockutil.c lib/macro.h lib/sockutil.h \
 lib/users.h
lib/macro.h:
lib/sockutil.h:
lib/users.h:
