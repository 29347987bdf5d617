build-asan/obj/lib/http.o: lib/http.c lib/http.h lib/macro.h
lib/http.h:
lib/macro.h:
