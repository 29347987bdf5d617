build-asan/obj/vassal/cputime.o: vassal/cputime.c vassal/cputime.h \
 lib/log.h lib/macro.h
vassal/cputime.h:
lib/log.h:
lib/macro.h:
