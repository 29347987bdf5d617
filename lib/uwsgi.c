/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "uwsgi.h"

static uint16_t read_le16(const char *p) {
        return (uint16_t) ((unsigned char) p[0] | (unsigned char) p[1] << 8);
}

static void write_le16(char *p, uint16_t v) {
        p[0] = (char) (v & 0xff);
        p[1] = (char) (v >> 8);
}

int uwsgi_packet_parse(const char *buf, size_t len, UwsgiPacket *ret) {
        const char *p, *end;

        assert(buf || len == 0);
        assert(ret);

        ret->n_vars = 0;

        if (len < UWSGI_HEADER_SIZE)
                return 0;
        ret->modifier1 = (uint8_t) buf[0];
        ret->datasize = read_le16(buf + 1);
        ret->modifier2 = (uint8_t) buf[3];
        if (ret->modifier1 != 0)
                return -EPROTONOSUPPORT;
        /* datasize is at most 64 KiB, so waiting for the whole block before looking at the vars
         * costs little and keeps the parse a single pass over complete data. */
        if (len - UWSGI_HEADER_SIZE < ret->datasize)
                return 0;

        p = buf + UWSGI_HEADER_SIZE;
        end = p + ret->datasize;
        while (p < end) {
                UwsgiVar *v;
                uint16_t n;

                if (ret->n_vars >= UWSGI_MAX_VARS)
                        return -E2BIG;
                v = &ret->vars[ret->n_vars];

                /* Every length is checked against what is left of the block before it is used,
                 * so a lying length can never point outside buf. */
                if (end - p < 2)
                        return -EBADMSG;
                n = read_le16(p);
                p += 2;
                if (n == 0 || end - p < n)
                        return -EBADMSG;
                v->key = p;
                v->key_len = n;
                p += n;

                if (end - p < 2)
                        return -EBADMSG;
                n = read_le16(p);
                p += 2;
                if (end - p < n)
                        return -EBADMSG;
                v->value = p;
                v->value_len = n;
                p += n;

                ret->n_vars++;
        }

        return UWSGI_HEADER_SIZE + ret->datasize;
}

const char *uwsgi_packet_get(const UwsgiPacket *p, const char *key, size_t *ret_len) {
        size_t n;

        assert(p);
        assert(key);

        n = strlen(key);
        for (size_t i = 0; i < p->n_vars; i++) {
                const UwsgiVar *v = &p->vars[i];

                if (v->key_len == n && memcmp(v->key, key, n) == 0) {
                        if (ret_len)
                                *ret_len = v->value_len;
                        return v->value;
                }
        }
        return NULL;
}

int uwsgi_var_encode(char *buf, size_t size, const char *key, const char *value) {
        size_t kl, vl;

        assert(buf || size == 0);
        assert(key);
        assert(value);

        kl = strlen(key);
        vl = strlen(value);
        /* The parser refuses an empty key, and neither length can exceed its u16 field. */
        if (kl == 0 || kl > UINT16_MAX || vl > UINT16_MAX)
                return -EINVAL;
        if (size < 4 + kl + vl)
                return -ENOBUFS;

        write_le16(buf, (uint16_t) kl);
        memcpy(buf + 2, key, kl);
        write_le16(buf + 2 + kl, (uint16_t) vl);
        memcpy(buf + 4 + kl, value, vl);
        return (int) (4 + kl + vl);
}
