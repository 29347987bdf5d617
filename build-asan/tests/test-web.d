build-asan/tests/test-web: tests/unit/test-web.c web/auth.h lib/http.h \
 web/buf.h lib/macro.h web/metrics.h /usr/include/cjson/cJSON.h
web/auth.h:
lib/http.h:
web/buf.h:
lib/macro.h:
web/metrics.h:
/usr/include/cjson/cJSON.h:
