/* SPDX-License-Identifier: MIT */
#pragma once

/* A growing byte buffer for responses. Out of memory is remembered, not returned at every
 * call: the caller checks oom once when done. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct Buf {
        char *data;
        size_t len, size;
        bool oom;
} Buf;

void buf_put(Buf *b, const void *p, size_t n);
void buf_puts(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
void buf_done(Buf *b);
