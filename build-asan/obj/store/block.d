build-asan/obj/store/block.o: store/block.c store/block.h
store/block.h:
