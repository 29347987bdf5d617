build-asan/obj/lib/backoff.o: lib/backoff.c lib/backoff.h
lib/backoff.h:
