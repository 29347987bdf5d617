/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "request-fixture.h"
#include "static.h"

static const char *normalize(const char *path, int *ret) {
        static char out[512];
        *ret = static_path_normalize(path, strlen(path), out, sizeof(out));
        return *ret == 0 ? out : NULL;
}

static void assert_normalized(const char *path, const char *expected) {
        int r;
        const char *got = normalize(path, &r);
        if (r != 0)
                fail_msg("'%s': %s", path, strerror(-r));
        assert_string_equal(got, expected);
}

static void assert_refused(const char *path, int expected) {
        int r;
        (void) normalize(path, &r);
        if (r != expected)
                fail_msg("'%s': got %d, expected %d", path, r, expected);
}

static void test_normalize_decodes_and_drops_empty_and_dot_segments(void **state) {
        (void) state;
        assert_normalized("", "");
        assert_normalized("/", "");
        assert_normalized("/a.css", "a.css");
        assert_normalized("/css/a.css", "css/a.css");
        assert_normalized("//css///./a.css/", "css/a.css");
        assert_normalized("/./././", "");
        assert_normalized("/a%20b.css", "a b.css");
        assert_normalized("/%41%62c", "Abc");
        assert_normalized("/caf%C3%A9", "caf\xc3\xa9");
        assert_normalized("/...", "...");
        assert_normalized("/..a/b..", "..a/b..");
        assert_normalized("/.hidden", ".hidden");
        assert_normalized("/%2e", "");                /* an encoded "." is still "." */
        assert_normalized("/a+b", "a+b");             /* '+' is not a space in a path */
}

static void test_normalize_refuses_every_way_out(void **state) {
        (void) state;
        assert_refused("/..", -EPERM);
        assert_refused("/../etc/passwd", -EPERM);
        assert_refused("/a/../../etc/passwd", -EPERM);
        assert_refused("/a/..", -EPERM);
        assert_refused("/%2e%2e/etc/passwd", -EPERM);
        assert_refused("/%2E%2e%2fetc%2fpasswd", -EPERM);
        assert_refused("/.%2e/x", -EPERM);
        assert_refused("/a%2fb", -EPERM);
        assert_refused("/a%2Fb", -EPERM);
        assert_refused("/a%00.css", -EPERM);
        assert_refused("/a\\..\\b", -EPERM);
        assert_refused("/a%5c..%5cb", -EPERM);
        int r = static_path_normalize("/a\0b", 4, (char[8]) {}, 8);
        assert_int_equal(r, -EPERM);
        /* Malformed escapes: 400, not a guess. */
        assert_refused("/a%", -EINVAL);
        assert_refused("/a%2", -EINVAL);
        assert_refused("/a%zz", -EINVAL);
        assert_refused("/a%%41", -EINVAL);
        assert_refused("/%g0", -EINVAL);
}

static void test_normalize_respects_the_output_size(void **state) {
        char out[4];
        (void) state;
        assert_int_equal(static_path_normalize("/abc", 4, out, sizeof(out)), 0);
        assert_string_equal(out, "abc");
        assert_int_equal(static_path_normalize("/abcd", 5, out, sizeof(out)), -ENAMETOOLONG);
        assert_int_equal(static_path_normalize("/a/bc", 5, out, sizeof(out)), -ENAMETOOLONG);
        assert_int_equal(static_path_normalize("", 0, out, 0), -ENAMETOOLONG);
}

static int range(const char *s, uint64_t size, uint64_t *off, uint64_t *len) {
        return static_parse_range(s, strlen(s), size, off, len);
}

static void test_range_single_suffix_open_and_unsatisfiable(void **state) {
        uint64_t off = 99, len = 99;
        (void) state;

        assert_int_equal(range("bytes=0-9", 100, &off, &len), 1);
        assert_int_equal(off, 0);
        assert_int_equal(len, 10);
        assert_int_equal(range("bytes=90-", 100, &off, &len), 1);
        assert_int_equal(off, 90);
        assert_int_equal(len, 10);
        assert_int_equal(range("bytes=-10", 100, &off, &len), 1);
        assert_int_equal(off, 90);
        assert_int_equal(len, 10);
        assert_int_equal(range("bytes=-500", 100, &off, &len), 1); /* all of it */
        assert_int_equal(off, 0);
        assert_int_equal(len, 100);
        assert_int_equal(range("bytes=50-5000", 100, &off, &len), 1); /* clamped */
        assert_int_equal(len, 50);
        assert_int_equal(range(" bytes=1-1 ", 100, &off, &len), 1);
        assert_int_equal(off, 1);
        assert_int_equal(len, 1);
        assert_int_equal(range("bytes=99999999999999999999999-", 100, &off, &len), -1);

        assert_int_equal(range("bytes=100-", 100, &off, &len), -1);
        assert_int_equal(range("bytes=100-200", 100, &off, &len), -1);
        assert_int_equal(range("bytes=-0", 100, &off, &len), -1);
        assert_int_equal(range("bytes=0-", 0, &off, &len), -1);
        assert_int_equal(range("bytes=-1", 0, &off, &len), -1);

        /* Ignored: the whole file is sent. */
        assert_int_equal(range("bytes=0-1,5-6", 100, &off, &len), 0);
        assert_int_equal(range("bytes=5-1", 100, &off, &len), 0);
        assert_int_equal(range("items=0-1", 100, &off, &len), 0);
        assert_int_equal(range("bytes=", 100, &off, &len), 0);
        assert_int_equal(range("bytes=-", 100, &off, &len), 0);
        assert_int_equal(range("bytes=a-b", 100, &off, &len), 0);
        assert_int_equal(range("bytes=1-2x", 100, &off, &len), 0);
}

static void test_dates_round_trip_in_every_form(void **state) {
        char buf[40];
        time_t t;
        (void) state;

        static_format_date(784111777, buf, sizeof(buf));
        assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_int_equal(static_parse_date(buf, strlen(buf), &t), 0);
        assert_int_equal(t, 784111777);
        const char *rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
        assert_int_equal(static_parse_date(rfc850, strlen(rfc850), &t), 0);
        assert_int_equal(t, 784111777);
        const char *asc = "Sun Nov  6 08:49:37 1994";
        assert_int_equal(static_parse_date(asc, strlen(asc), &t), 0);
        assert_int_equal(t, 784111777);
        static const char *const bad[] = {
                "", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT",
                "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT junk",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(static_parse_date(bad[i], strlen(bad[i]), &t), -EINVAL);
}

static void test_options_are_checked(void **state) {
        _cleanup_(static_files_freep) StaticFiles *s = NULL;
        const char *expected = NULL;
        (void) state;

        assert_int_equal(static_files_new(&s), 0);
        assert_false(static_files_active(s));
        assert_true(static_files_key("static-map"));
        assert_true(static_files_key("static-expires-uri"));
        assert_false(static_files_key("offload-threads"));

        static const char *const bad[][2] = {
                { "static-map", "static" },         { "static-map", "/static" },
                { "static-map", "/static=" },       { "static-map", "static=/srv" },
                { "static-map2", "=/srv" },         { "check-static", "" },
                { "static-index", "" },             { "static-index", "a/index.html" },
                { "static-index", ".." },           { "static-skip-ext", "" },
                { "static-expires-uri", "86400" },  { "static-expires-uri", "\\.css$" },
                { "static-expires-uri", "a -1" },   { "static-expires-uri", "( 60" },
                { "static-expires", "x 99999999999" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                expected = NULL;
                if (static_files_add(s, bad[i][0], bad[i][1], &expected) != -EINVAL)
                        fail_msg("%s = %s accepted", bad[i][0], bad[i][1]);
                assert_non_null(expected);
        }
        assert_false(static_files_active(s));
        assert_int_equal(static_files_add(s, "static-index", "index.html", &expected), 0);
        assert_int_equal(static_files_add(s, "static-expires-uri", "\\.css$   3600", &expected),
                         0);
        assert_false(static_files_active(s));
        assert_int_equal(static_files_add(s, "static-map", "/s=/srv/static/", &expected), 0);
        assert_true(static_files_active(s));
}

/* Serving, on a socketpair: a temp directory mapped at /s, a file outside it, a symlink. */
typedef struct ServeFixture {
        Fixture *f;
        char dir[64];
        StaticFiles *s;
} ServeFixture;

static void write_file(const char *path, const char *content) {
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(content, fp);
        assert_int_equal(fclose(fp), 0);
}

static int serve_setup(void **state) {
        ServeFixture *sf = calloc(1, sizeof(*sf));
        char path[128], map[128];
        const char *expected;

        assert_non_null(sf);
        assert_int_equal(setup((void **) &sf->f), 0);
        strcpy(sf->dir, "/tmp/test-static.XXXXXX");
        assert_non_null(mkdtemp(sf->dir));
        snprintf(path, sizeof(path), "%s/root", sf->dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/root/a.css", sf->dir);
        write_file(path, "body{}\n");
        snprintf(path, sizeof(path), "%s/root/sub", sf->dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/secret", sf->dir);
        write_file(path, "secret\n");
        snprintf(path, sizeof(path), "%s/root/out", sf->dir);
        assert_int_equal(symlink("../secret", path), 0);
        snprintf(path, sizeof(path), "%s/root/abs", sf->dir);
        char target[128];
        snprintf(target, sizeof(target), "%s/secret", sf->dir);
        assert_int_equal(symlink(target, path), 0);
        snprintf(path, sizeof(path), "%s/root/in", sf->dir);
        assert_int_equal(symlink("a.css", path), 0);

        assert_int_equal(static_files_new(&sf->s), 0);
        snprintf(map, sizeof(map), "/s=%s/root", sf->dir);
        assert_int_equal(static_files_add(sf->s, "static-map", map, &expected), 0);
        *state = sf;
        return 0;
}

static int serve_teardown(void **state) {
        ServeFixture *sf = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sf->dir);
        assert_int_equal(system(cmd), 0);
        static_files_free(sf->s);
        void *f = sf->f;
        teardown(&f);
        free(sf);
        return 0;
}

/* Serves one request head; returns whether we answered it, and what the client got. */
static bool serve(ServeFixture *sf, const char *head, char *got, size_t size) {
        Fixture *f = sf->f;
        char with_host[512];
        /* HTTP/1.1 needs a Host: added after the request line. */
        size_t line = strstr(head, "\r\n") - head + 2;
        snprintf(with_host, sizeof(with_host), "%.*sHost: h\r\n%s", (int) line, head,
                 head + line);
        restart(f, SOCKET_HTTP, 1000);
        assert_int_equal(feed_http(f, with_host), 0);
        bool answered = static_serve(sf->s, &f->r);
        size_t n = client_recv(f, got, size - 1);
        got[n] = 0;
        return answered;
}

static void test_serve_file_headers_and_conditionals(void **state) {
        ServeFixture *sf = *state;
        char got[4096], etag[64];

        assert_true(serve(sf, "GET /s/a.css HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));
        assert_non_null(strstr(got, "Content-Type: text/css\r\n"));
        assert_non_null(strstr(got, "Content-Length: 7\r\n"));
        assert_non_null(strstr(got, "Last-Modified: "));
        assert_non_null(strstr(got, "\r\n\r\nbody{}\n"));
        assert_true(sf->f->r.keep_alive);
        const char *e = strstr(got, "ETag: ");
        assert_non_null(e);
        snprintf(etag, sizeof(etag), "%.*s", (int) strcspn(e + 6, "\r"), e + 6);

        char head[256];
        snprintf(head, sizeof(head), "GET /s/a.css HTTP/1.1\r\nIf-None-Match: \"x\", %s\r\n\r\n",
                 etag);
        assert_true(serve(sf, head, got, sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 304 Not Modified\r\n"));
        assert_null(strstr(got, "body{}"));
        assert_true(serve(sf, "GET /s/a.css HTTP/1.1\r\nIf-Modified-Since: Fri, 01 Jan 2100 "
                              "00:00:00 GMT\r\n\r\n", got, sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 304 Not Modified\r\n"));
        assert_true(serve(sf, "GET /s/a.css HTTP/1.1\r\nIf-Modified-Since: Thu, 01 Jan 1970 "
                              "00:00:00 GMT\r\n\r\n", got, sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));

        assert_true(serve(sf, "GET /s/a.css HTTP/1.1\r\nRange: bytes=1-3\r\n\r\n", got,
                          sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 206 Partial Content\r\n"));
        assert_non_null(strstr(got, "Content-Range: bytes 1-3/7\r\n"));
        assert_non_null(strstr(got, "\r\n\r\nody"));
        assert_true(serve(sf, "GET /s/a.css HTTP/1.1\r\nRange: bytes=7-\r\n\r\n", got,
                          sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 416 Range Not Satisfiable\r\n"));
        assert_non_null(strstr(got, "Content-Range: bytes */7\r\n"));

        assert_true(serve(sf, "HEAD /s/a.css HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_non_null(strstr(got, "Content-Length: 7\r\n"));
        assert_null(strstr(got, "body{}"));
        assert_true(serve(sf, "POST /s/a.css HTTP/1.1\r\nContent-Length: 0\r\n\r\n", got,
                          sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 405 Method Not Allowed\r\n"));
        assert_non_null(strstr(got, "Allow: GET, HEAD\r\n"));
        /* A symlink inside the root is followed. */
        assert_true(serve(sf, "GET /s/in HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 200 OK\r\n"));
}

static void test_serve_never_leaves_the_root(void **state) {
        static const char *const attempts[] = {
                "/s/../secret", "/s/%2e%2e/secret", "/s/%2e%2e%2fsecret", "/s/sub%2f..%2f..%2fsecret",
                "/s/a.css%00.png", "/s/..\\secret", "/s/out", "/s/abs", "/s/sub/../../secret",
        };
        ServeFixture *sf = *state;
        char got[4096], head[256];

        for (size_t i = 0; i < ELEMENTSOF(attempts); i++) {
                snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\n\r\n", attempts[i]);
                assert_true(serve(sf, head, got, sizeof(got)));
                if (!strstr(got, "HTTP/1.1 404 Not Found\r\n"))
                        fail_msg("%s: %s", attempts[i], got);
                assert_null(strstr(got, "secret"));
        }
        assert_true(serve(sf, "GET /s/%zz HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_non_null(strstr(got, "HTTP/1.1 400 Bad Request\r\n"));
}

static void test_serve_leaves_the_rest_to_the_app(void **state) {
        ServeFixture *sf = *state;
        char got[256];

        assert_false(serve(sf, "GET /app HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_false(serve(sf, "GET /sx/a.css HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_false(serve(sf, "GET /s/missing.css HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_false(serve(sf, "GET /s/sub/ HTTP/1.1\r\n\r\n", got, sizeof(got))); /* no index */
        /* Under a mount point, a path that cannot be a file is ours to refuse. */
        assert_true(serve(sf, "GET /s/../x HTTP/1.1\r\n\r\n", got, sizeof(got)));
        assert_string_equal(got, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: 14\r\n\r\n404 Not Found\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_normalize_decodes_and_drops_empty_and_dot_segments),
                cmocka_unit_test(test_normalize_refuses_every_way_out),
                cmocka_unit_test(test_normalize_respects_the_output_size),
                cmocka_unit_test(test_range_single_suffix_open_and_unsatisfiable),
                cmocka_unit_test(test_dates_round_trip_in_every_form),
                cmocka_unit_test(test_options_are_checked),
                cmocka_unit_test_setup_teardown(test_serve_file_headers_and_conditionals,
                                                serve_setup, serve_teardown),
                cmocka_unit_test_setup_teardown(test_serve_never_leaves_the_root, serve_setup,
                                                serve_teardown),
                cmocka_unit_test_setup_teardown(test_serve_leaves_the_rest_to_the_app,
                                                serve_setup, serve_teardown),
        };
        return cmocka_run_group_tests_name("static", tests, NULL, NULL);
}
