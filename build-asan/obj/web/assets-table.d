build-asan/obj/web/assets-table.o: build-asan/web/assets-table.c \
 web/assets.h
web/assets.h:
