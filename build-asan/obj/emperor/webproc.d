build-asan/obj/emperor/webproc.o: emperor/webproc.c lib/exitcodes.h \
 lib/log.h lib/macro.h lib/sockutil.h emperor/spawn.h emperor/webproc.h \
 emperor/manager.h
lib/exitcodes.h:
lib/log.h:
lib/macro.h:
lib/sockutil.h:
emperor/spawn.h:
emperor/webproc.h:
emperor/manager.h:
