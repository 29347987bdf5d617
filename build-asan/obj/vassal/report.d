build-asan/obj/vassal/report.o: vassal/report.c lib/log.h lib/macro.h \
 vassal/report.h
lib/log.h:
lib/macro.h:
vassal/report.h:
