/* SPDX-License-Identifier: MIT */
/* libFuzzer target for lib/uwsgi.c: the packet parser, checked against its invariants, against
 * itself on prefixes, and by re-encoding what it found, which must give back the same bytes. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uwsgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool span_inside(const char *p, size_t n, const char *lo, const char *hi) {
        return p && p >= lo && p <= hi && n <= (size_t) (hi - p);
}

/* Copies a var's bytes into a C string; false when they hold a NUL (not expressible). */
static bool to_cstring(char *dst, const char *s, size_t n) {
        if (memchr(s, 0, n))
                return false;
        memcpy(dst, s, n);
        dst[n] = 0;
        return true;
}

static void check_packet(const char *buf, size_t len, const UwsgiPacket *p, int r) {
        static char key[UINT16_MAX + 1], value[UINT16_MAX + 1], reencoded[UINT16_MAX];
        const char *vars = buf + UWSGI_HEADER_SIZE, *end = buf + r;
        size_t off = 0;
        bool encodable = true;

        CHECK((size_t) r <= len && r == UWSGI_HEADER_SIZE + p->datasize);
        CHECK(p->modifier1 == 0);
        CHECK(p->n_vars <= UWSGI_MAX_VARS);

        for (size_t i = 0; i < p->n_vars; i++) {
                const UwsgiVar *v = &p->vars[i], *first = v;
                size_t start = off, got_len;
                const char *got;

                CHECK(v->key_len > 0 && span_inside(v->key, v->key_len, vars, end));
                CHECK(span_inside(v->value, v->value_len, vars, end));
                /* The vars tile the block exactly: each starts where the previous ended. */
                CHECK(v->key == vars + start + 2);
                CHECK(v->value == v->key + v->key_len + 2);
                off += 4 + v->key_len + v->value_len;

                if (!encodable || !to_cstring(key, v->key, v->key_len) ||
                    !to_cstring(value, v->value, v->value_len)) {
                        encodable = false;
                        continue;
                }

                /* Lookup gives the value of the key's first occurrence. */
                for (size_t j = 0; j < i; j++)
                        if (p->vars[j].key_len == v->key_len &&
                            memcmp(p->vars[j].key, v->key, v->key_len) == 0) {
                                first = &p->vars[j];
                                break;
                        }
                got = uwsgi_packet_get(p, key, &got_len);
                CHECK(got == first->value && got_len == first->value_len);

                CHECK(uwsgi_var_encode(reencoded + start, sizeof(reencoded) - start, key, value) ==
                      4 + v->key_len + v->value_len);
        }
        CHECK(off == p->datasize);
        if (encodable)
                CHECK(memcmp(reencoded, vars, off) == 0);
}

/* Parses a heap copy of exactly n bytes, so ASan sees any read past what was given. */
static int parse_copy(const uint8_t *data, size_t n, UwsgiPacket *p) {
        char *copy = malloc(n ?: 1);
        int r;

        CHECK(copy);
        memcpy(copy, data, n);
        r = uwsgi_packet_parse(copy, n, p);
        free(copy);
        return r;
}

static void check_prefix(const uint8_t *data, size_t n, int full) {
        static UwsgiPacket p;
        int r = parse_copy(data, n, &p);

        if (full > 0)
                CHECK(r == (n < (size_t) full ? 0 : full));
        else
                CHECK(r == 0 || r == full);
}

/* Encodes a key and a value cut from the input into a buffer of a size also taken from it,
 * then parses the one-var packet back. */
static void fuzz_encode(const uint8_t *data, size_t size) {
        static char key[8193], value[8193], buf[UWSGI_HEADER_SIZE + 2 * 8193 + 4];
        size_t cut, kl, vl, room;
        int r;

        if (size < 3)
                return;
        cut = 2 + data[0] % (size - 2);
        room = (size_t) data[1] * 64 + data[0];
        if (room > sizeof(buf) - UWSGI_HEADER_SIZE)
                room = sizeof(buf) - UWSGI_HEADER_SIZE;
        kl = strnlen((const char *) data + 2, cut - 2);
        memcpy(key, data + 2, kl);
        key[kl] = 0;
        vl = strnlen((const char *) data + cut, size - cut);
        memcpy(value, data + cut, vl);
        value[vl] = 0;

        r = uwsgi_var_encode(buf + UWSGI_HEADER_SIZE, room, key, value);
        if (kl == 0) {
                CHECK(r == -EINVAL);
                return;
        }
        if (room < 4 + kl + vl) {
                CHECK(r == -ENOBUFS);
                return;
        }
        CHECK(r == (int) (4 + kl + vl));

        static UwsgiPacket p;
        size_t len;
        const char *got;

        buf[0] = 0;
        buf[1] = (char) (r & 0xff);
        buf[2] = (char) (r >> 8);
        buf[3] = 0;
        CHECK(uwsgi_packet_parse(buf, UWSGI_HEADER_SIZE + r, &p) == UWSGI_HEADER_SIZE + r);
        CHECK(p.n_vars == 1);
        got = uwsgi_packet_get(&p, key, &len);
        CHECK(got && len == vl && memcmp(got, value, vl) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static UwsgiPacket p;
        char *buf = malloc(size ?: 1);
        int r;

        CHECK(buf);
        memcpy(buf, data, size);
        r = uwsgi_packet_parse(buf, size, &p);
        if (r > 0)
                check_packet(buf, size, &p, r);
        else
                CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -EPROTONOSUPPORT);

        if (size > 0) {
                check_prefix(data, size / 2, r);
                check_prefix(data, data[0] % size, r);
                check_prefix(data, size - 1, r);
        }

        fuzz_encode(data, size);
        free(buf);
        return 0;
}
