build-asan/obj/lib/uwsgi.o: lib/uwsgi.c lib/uwsgi.h
lib/uwsgi.h:
