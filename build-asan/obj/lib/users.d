build-asan/obj/lib/users.o: lib/users.c lib/macro.h lib/users.h
lib/macro.h:
lib/users.h:
