build-asan/obj/web/buf.o: web/buf.c web/buf.h lib/macro.h
web/buf.h:
lib/macro.h:
