build-asan/obj/vassal/scoreboard.o: vassal/scoreboard.c \
 /usr/include/cjson/cJSON.h lib/macro.h vassal/scoreboard.h
/usr/include/cjson/cJSON.h:
lib/macro.h:
vassal/scoreboard.h:
