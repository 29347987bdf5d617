build-asan/obj/lib/acceptor.o: lib/acceptor.c lib/acceptor.h lib/macro.h
lib/acceptor.h:
lib/macro.h:
