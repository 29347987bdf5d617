/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool buf_reserve(Buf *b, size_t n) {
        if (b->oom)
                return false;
        if (b->len + n < b->size)
                return true;
        size_t want = MAX(b->size * 2, b->len + n + 4096);
        char *d = realloc(b->data, want);
        if (!d) {
                b->oom = true;
                return false;
        }
        b->data = d;
        b->size = want;
        return true;
}

void buf_put(Buf *b, const void *p, size_t n) {
        if (n == 0 || !buf_reserve(b, n))
                return;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
}

void buf_puts(Buf *b, const char *s) {
        buf_put(b, s, strlen(s));
}

void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->oom = true;
                return;
        }
        if (!buf_reserve(b, (size_t) n + 1))
                return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->size - b->len, fmt, ap);
        va_end(ap);
        b->len += n;
}

void buf_done(Buf *b) {
        free(b->data);
        *b = (Buf) {};
}
