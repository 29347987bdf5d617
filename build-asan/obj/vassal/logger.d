build-asan/obj/vassal/logger.o: vassal/logger.c lib/log.h lib/macro.h \
 vassal/logger.h vassal/config.h lib/conf.h lib/ini.h
lib/log.h:
lib/macro.h:
vassal/logger.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
