/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "uwsgi.h"

/* What nginx's stock uwsgi_params sends for "GET /hello?name=x" (empty values included). */
static const char *const nginx_vars[][2] = {
        { "QUERY_STRING", "name=x" },
        { "REQUEST_METHOD", "GET" },
        { "CONTENT_TYPE", "" },
        { "CONTENT_LENGTH", "" },
        { "REQUEST_URI", "/hello?name=x" },
        { "PATH_INFO", "/hello" },
        { "DOCUMENT_ROOT", "/usr/share/nginx/html" },
        { "SERVER_PROTOCOL", "HTTP/1.1" },
        { "REQUEST_SCHEME", "http" },
        { "HTTPS", "" },
        { "REMOTE_ADDR", "127.0.0.1" },
        { "REMOTE_PORT", "51234" },
        { "SERVER_PORT", "8080" },
        { "SERVER_NAME", "localhost" },
        { "HTTP_HOST", "localhost:8080" },
        { "HTTP_USER_AGENT", "curl/7.88.1" },
        { "HTTP_ACCEPT", "*/*" },
};

/* Writes the 4-byte header for a packet whose vars take datasize bytes. */
static void put_header(char *buf, uint8_t modifier1, uint16_t datasize, uint8_t modifier2) {
        buf[0] = (char) modifier1;
        buf[1] = (char) (datasize & 0xff);
        buf[2] = (char) (datasize >> 8);
        buf[3] = (char) modifier2;
}

/* Builds a WSGI packet of the n key/value pairs with uwsgi_var_encode(); returns its length. */
static size_t build_packet(char *buf, size_t size, const char *const (*vars)[2], size_t n) {
        size_t off = UWSGI_HEADER_SIZE;

        for (size_t i = 0; i < n; i++) {
                int r = uwsgi_var_encode(buf + off, size - off, vars[i][0], vars[i][1]);

                assert_true(r > 0);
                off += r;
        }
        assert_true(off - UWSGI_HEADER_SIZE <= UINT16_MAX);
        put_header(buf, 0, (uint16_t) (off - UWSGI_HEADER_SIZE), 0);
        return off;
}

/* Parses a copy of buf[0..len) in a block of exactly len bytes, so ASan sees any overread.
 * The copy is gone on return: only the return value and the scalars of *p are meaningful. */
static int parse_n(const char *buf, size_t len, UwsgiPacket *p) {
        char *copy = malloc(len ?: 1);
        int r;

        assert_non_null(copy);
        memcpy(copy, buf, len);
        r = uwsgi_packet_parse(copy, len, p);
        free(copy);
        return r;
}

static void assert_var(const UwsgiPacket *p, const char *key, const char *value) {
        size_t len = SIZE_MAX;
        const char *v = uwsgi_packet_get(p, key, &len);

        assert_non_null(v);
        assert_int_equal(len, strlen(value));
        assert_memory_equal(v, value, len);
}

static void test_parse_nginx_packet(_unused_ void **state) {
        static UwsgiPacket p;
        char buf[4096];
        size_t len = build_packet(buf, sizeof(buf), nginx_vars, ELEMENTSOF(nginx_vars));

        /* The body follows on the same stream and is not part of the packet. */
        memcpy(buf + len, "BODY", 4);
        assert_int_equal(uwsgi_packet_parse(buf, len + 4, &p), len);
        assert_int_equal(p.modifier1, 0);
        assert_int_equal(p.modifier2, 0);
        assert_int_equal(p.datasize, len - UWSGI_HEADER_SIZE);
        assert_int_equal(p.n_vars, ELEMENTSOF(nginx_vars));
        for (size_t i = 0; i < ELEMENTSOF(nginx_vars); i++) {
                assert_int_equal(p.vars[i].key_len, strlen(nginx_vars[i][0]));
                assert_memory_equal(p.vars[i].key, nginx_vars[i][0], p.vars[i].key_len);
                assert_var(&p, nginx_vars[i][0], nginx_vars[i][1]);
        }
}

static void test_parse_allows_empty_values(_unused_ void **state) {
        static const char *const vars[][2] = { { "A", "" }, { "B", "x" }, { "C", "" } };
        static UwsgiPacket p;
        char buf[64];
        size_t len = build_packet(buf, sizeof(buf), vars, ELEMENTSOF(vars));

        assert_int_equal(parse_n(buf, len, &p), len);
        assert_int_equal(uwsgi_packet_parse(buf, len, &p), len);
        assert_int_equal(p.n_vars, 3);
        assert_int_equal(p.vars[0].value_len, 0);
        assert_int_equal(p.vars[2].value_len, 0);
        assert_var(&p, "B", "x");
}

static void test_parse_accepts_empty_packet(_unused_ void **state) {
        static UwsgiPacket p;
        char buf[4];

        put_header(buf, 0, 0, 0);
        assert_int_equal(parse_n(buf, 4, &p), 4);
        assert_int_equal(p.n_vars, 0);
        assert_null(uwsgi_packet_get(&p, "REQUEST_METHOD", NULL));
}

static void test_parse_needs_more_bytes_until_complete(_unused_ void **state) {
        static UwsgiPacket p;
        char buf[4096];
        size_t len = build_packet(buf, sizeof(buf), nginx_vars, ELEMENTSOF(nginx_vars));

        for (size_t n = 0; n < len; n++)
                assert_int_equal(parse_n(buf, n, &p), 0);
        assert_int_equal(parse_n(buf, len, &p), len);
}

static void test_parse_reads_little_endian_sizes_and_modifiers(_unused_ void **state) {
        static UwsgiPacket p;
        static char buf[UWSGI_HEADER_SIZE + UINT16_MAX];
        char value[65531];
        int r;

        /* One var filling a maximal packet: 2 + 1 + 2 + 65530 = 65535 bytes of vars. */
        memset(value, 'v', sizeof(value) - 1);
        value[sizeof(value) - 1] = 0;
        r = uwsgi_var_encode(buf + UWSGI_HEADER_SIZE, sizeof(buf) - UWSGI_HEADER_SIZE, "K", value);
        assert_int_equal(r, UINT16_MAX);
        put_header(buf, 0, UINT16_MAX, 0xab);

        assert_int_equal(parse_n(buf, sizeof(buf), &p), sizeof(buf));
        assert_int_equal(p.datasize, 0xffff);
        assert_int_equal(p.modifier2, 0xab);
        assert_int_equal(p.n_vars, 1);
        assert_int_equal(p.vars[0].value_len, 65530);
        assert_int_equal(parse_n(buf, sizeof(buf) - 1, &p), 0);

        /* datasize 0x0102 is 258: little-endian, low byte first. */
        put_header(buf, 0, 0x0102, 0);
        assert_int_equal((unsigned char) buf[1], 0x02);
        assert_int_equal(parse_n(buf, 4 + 257, &p), 0);
}

static void test_parse_rejects_non_wsgi_modifier(_unused_ void **state) {
        static UwsgiPacket p;
        char buf[4096];
        size_t len = build_packet(buf, sizeof(buf), nginx_vars, ELEMENTSOF(nginx_vars));

        buf[0] = 5;
        assert_int_equal(parse_n(buf, len, &p), -EPROTONOSUPPORT);
        /* Known from the header alone. */
        assert_int_equal(parse_n(buf, UWSGI_HEADER_SIZE, &p), -EPROTONOSUPPORT);
}

static void test_parse_rejects_lengths_past_datasize(_unused_ void **state) {
        static const struct {
                const char *vars;
                size_t len;
        } cases[] = {
#define C(s) { s, sizeof(s) - 1 }
                C("\x05\x00" "AB"),                       /* key runs past the block */
                C("\x02\x00" "AB" "\x05\x00" "xy"),       /* value runs past the block */
                C("\xff\xff" "AB"),
                C("\x02\x00" "AB" "\xff\xff"),
                C("\x02\x00" "AB" "\x01\x00" "x" "\x01"), /* trailing garbage: half a length */
                C("\x02\x00" "AB" "\x01\x00" "x" "\x01\x00" "K"), /* a key with no value */
                C("\x02\x00" "AB"),                       /* no value length at all */
                C("\x00\x00" "\x01\x00" "x"),             /* empty key */
                C("\x01"),
#undef C
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                static UwsgiPacket p;
                char buf[64];

                put_header(buf, 0, (uint16_t) cases[i].len, 0);
                memcpy(buf + UWSGI_HEADER_SIZE, cases[i].vars, cases[i].len);
                assert_int_equal(parse_n(buf, UWSGI_HEADER_SIZE + cases[i].len, &p), -EBADMSG);
                /* Still only "need more" while the block is incomplete. */
                assert_int_equal(parse_n(buf, UWSGI_HEADER_SIZE + cases[i].len - 1, &p), 0);
        }
}

static size_t build_many(char *buf, size_t size, size_t n) {
        size_t off = UWSGI_HEADER_SIZE;

        for (size_t i = 0; i < n; i++) {
                char key[32];
                int r;

                snprintf(key, sizeof(key), "K%zu", i);
                r = uwsgi_var_encode(buf + off, size - off, key, "");
                assert_true(r > 0);
                off += r;
        }
        put_header(buf, 0, (uint16_t) (off - UWSGI_HEADER_SIZE), 0);
        return off;
}

static void test_parse_accepts_max_vars(_unused_ void **state) {
        static UwsgiPacket p;
        char buf[8192];
        size_t len = build_many(buf, sizeof(buf), UWSGI_MAX_VARS);

        assert_int_equal(parse_n(buf, len, &p), len);
        assert_int_equal(uwsgi_packet_parse(buf, len, &p), len);
        assert_int_equal(p.n_vars, UWSGI_MAX_VARS);
        assert_var(&p, "K255", "");
}

static void test_parse_rejects_too_many_vars(_unused_ void **state) {
        static UwsgiPacket p;
        char buf[8192];
        size_t len = build_many(buf, sizeof(buf), UWSGI_MAX_VARS + 1);

        assert_int_equal(parse_n(buf, len, &p), -E2BIG);
}

static void test_get_matches_whole_key_case_sensitively(_unused_ void **state) {
        static const char *const vars[][2] = {
                { "PATH_INFO", "/a" }, { "PATH", "/b" }, { "PATH_INFO", "/dup" },
        };
        static UwsgiPacket p;
        char buf[128];
        size_t len = build_packet(buf, sizeof(buf), vars, ELEMENTSOF(vars));

        assert_int_equal(uwsgi_packet_parse(buf, len, &p), len);
        /* The first of duplicated keys wins. */
        assert_var(&p, "PATH_INFO", "/a");
        assert_var(&p, "PATH", "/b");
        assert_null(uwsgi_packet_get(&p, "PATH_", NULL));
        assert_null(uwsgi_packet_get(&p, "path_info", NULL));
        assert_null(uwsgi_packet_get(&p, "", NULL));
}

static void test_encode_writes_little_endian_lengths(_unused_ void **state) {
        char buf[16];

        assert_int_equal(uwsgi_var_encode(buf, sizeof(buf), "KEY", "v"), 8);
        assert_memory_equal(buf, "\x03\x00KEY\x01\x00v", 8);
        assert_int_equal(uwsgi_var_encode(buf, sizeof(buf), "K", ""), 5);
        assert_memory_equal(buf, "\x01\x00K\x00\x00", 5);
}

static void test_encode_reports_short_buffer(_unused_ void **state) {
        char buf[16];

        for (size_t size = 0; size < 8; size++) {
                memset(buf, 'X', sizeof(buf));
                assert_int_equal(uwsgi_var_encode(buf, size, "KEY", "v"), -ENOBUFS);
                /* Nothing written on failure. */
                assert_int_equal(buf[0], 'X');
        }
        assert_int_equal(uwsgi_var_encode(buf, 8, "KEY", "v"), 8);
}

static void test_encode_rejects_unencodable_vars(_unused_ void **state) {
        static char big[UINT16_MAX + 2], buf[2 * UINT16_MAX + 16];

        assert_int_equal(uwsgi_var_encode(buf, sizeof(buf), "", "v"), -EINVAL);

        memset(big, 'x', UINT16_MAX);
        assert_int_equal(uwsgi_var_encode(buf, sizeof(buf), "K", big), 5 + UINT16_MAX);
        big[UINT16_MAX] = 'x';
        assert_int_equal(uwsgi_var_encode(buf, sizeof(buf), "K", big), -EINVAL);
        assert_int_equal(uwsgi_var_encode(buf, sizeof(buf), big, "v"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_nginx_packet),
                cmocka_unit_test(test_parse_allows_empty_values),
                cmocka_unit_test(test_parse_accepts_empty_packet),
                cmocka_unit_test(test_parse_needs_more_bytes_until_complete),
                cmocka_unit_test(test_parse_reads_little_endian_sizes_and_modifiers),
                cmocka_unit_test(test_parse_rejects_non_wsgi_modifier),
                cmocka_unit_test(test_parse_rejects_lengths_past_datasize),
                cmocka_unit_test(test_parse_accepts_max_vars),
                cmocka_unit_test(test_parse_rejects_too_many_vars),
                cmocka_unit_test(test_get_matches_whole_key_case_sensitively),
                cmocka_unit_test(test_encode_writes_little_endian_lengths),
                cmocka_unit_test(test_encode_reports_short_buffer),
                cmocka_unit_test(test_encode_rejects_unencodable_vars),
        };

        return cmocka_run_group_tests_name("uwsgi", tests, NULL, NULL);
}
