build-asan/obj/emperor/notify.o: emperor/notify.c lib/macro.h \
 emperor/notify.h lib/vstats.h /usr/include/cjson/cJSON.h
lib/macro.h:
emperor/notify.h:
lib/vstats.h:
/usr/include/cjson/cJSON.h:
