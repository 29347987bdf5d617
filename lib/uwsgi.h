/* SPDX-License-Identifier: MIT */
#pragma once

/* The uwsgi binary protocol, as nginx's uwsgi_pass speaks it:
 *   4-byte header: modifier1 (u8), datasize (u16 little-endian), modifier2 (u8)
 *   then datasize bytes of vars: repeated [u16 LE keylen][key][u16 LE vallen][value]
 *   then the request body (CONTENT_LENGTH bytes) on the same stream.
 * Stateless and allocation-free like the HTTP parser: strings point into the caller's buffer. */

#include <stddef.h>
#include <stdint.h>

#define UWSGI_MAX_VARS 256
#define UWSGI_HEADER_SIZE 4

typedef struct UwsgiVar {
        const char *key;
        uint16_t key_len;
        const char *value;
        uint16_t value_len;
} UwsgiVar;

typedef struct UwsgiPacket {
        uint8_t modifier1;
        uint8_t modifier2;
        uint16_t datasize;
        UwsgiVar vars[UWSGI_MAX_VARS];
        size_t n_vars;
} UwsgiPacket;

/* Parses the packet in buf[0..len). Returns its total length (UWSGI_HEADER_SIZE + datasize)
 * once complete; 0 when more bytes are needed; -EBADMSG when the vars are malformed (a length
 * running past datasize, an empty key, trailing garbage); -E2BIG with more than UWSGI_MAX_VARS
 * vars; -EPROTONOSUPPORT for a modifier1 other than 0 (WSGI request). */
int uwsgi_packet_parse(const char *buf, size_t len, UwsgiPacket *ret);

/* Looks a var up by key (case-sensitive; the first one when a key repeats); NULL when absent.
 * Sets *ret_len, when not NULL, to the value's length. */
const char *uwsgi_packet_get(const UwsgiPacket *p, const char *key, size_t *ret_len);

/* Appends one var to an encoder buffer: returns the bytes written, or -ENOBUFS when it does not
 * fit (nothing is written then), or -EINVAL for an empty key or a key or value over 65535
 * bytes. The 4-byte header is the caller's, as is keeping datasize under 65536.
 * For tests, benchmarks and tools that speak to a vassal's uwsgi socket. */
int uwsgi_var_encode(char *buf, size_t size, const char *key, const char *value);
