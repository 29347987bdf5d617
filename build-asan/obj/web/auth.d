build-asan/obj/web/auth.o: web/auth.c web/auth.h lib/http.h lib/macro.h
web/auth.h:
lib/http.h:
lib/macro.h:
