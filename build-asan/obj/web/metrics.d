build-asan/obj/web/metrics.o: web/metrics.c lib/macro.h web/metrics.h \
 /usr/include/cjson/cJSON.h web/buf.h
lib/macro.h:
web/metrics.h:
/usr/include/cjson/cJSON.h:
web/buf.h:
