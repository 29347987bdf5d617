build-asan/obj/lib/duration.o: lib/duration.c lib/duration.h lib/macro.h
lib/duration.h:
lib/macro.h:
