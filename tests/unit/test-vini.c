/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vini.h"

static char *write_ini(const char *text) {
        static char path[64];
        snprintf(path, sizeof(path), "/tmp/test-vini.XXXXXX.ini");
        int fd = mkstemps(path, 4);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        return path;
}

static void test_sockets_in_the_order_the_vassal_adopts_them(void **state) {
        VassalIni v;
        char *error = NULL;
        const char *socks[8];
        (void) state;
        char *path = write_ini("[uwsgi]\nsocket = /run/a.sock\nhttp-socket = :8080\n"
                               "uwsgi-socket = 127.0.0.1:3031\nhttp = 127.0.0.1:8081\n"
                               "processes = many\nunknown-key = 1\nreload-mercy = 5\n"
                               "chmod-socket = 660\nuid = nobody\n");
        /* processes = many is the vassal's to report: the emperor reads its own keys only. */
        assert_int_equal(vini_load(&v, path, &error), 0);
        assert_null(error);
        size_t n = vini_sockets(&v, socks, 8);
        assert_int_equal(n, 4);
        assert_string_equal(socks[0], ":8080");
        assert_string_equal(socks[1], "127.0.0.1:8081");
        assert_string_equal(socks[2], "/run/a.sock");
        assert_string_equal(socks[3], "127.0.0.1:3031");
        assert_int_equal(v.reload_mercy, 5);
        assert_int_equal(v.chmod_socket, 0660);
        assert_string_equal(v.uid, "nobody");
        vini_done(&v);
        unlink(path);
}

static void test_errors_are_file_line_messages(void **state) {
        VassalIni v;
        char *error = NULL;
        (void) state;
        char *path = write_ini("[uwsgi]\nhttp-socket = :1\nlisten = -4\n");
        assert_true(vini_load(&v, path, &error) < 0);
        assert_non_null(error);
        char want[128];
        snprintf(want, sizeof(want), "%s:3: listen:", path);
        assert_non_null(strstr(error, want));
        free(error);
        vini_done(&v);
        unlink(path);
}

static void test_defaults(void **state) {
        VassalIni v;
        char *error = NULL;
        const char *socks[2];
        (void) state;
        char *path = write_ini("[uwsgi]\nexec = /bin/true\n");
        assert_int_equal(vini_load(&v, path, &error), 0);
        assert_int_equal(vini_sockets(&v, socks, 2), 0);
        assert_int_equal(v.reload_mercy, 60);
        assert_int_equal(v.chmod_socket, -1);
        assert_null(v.uid);
        vini_done(&v);
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sockets_in_the_order_the_vassal_adopts_them),
                cmocka_unit_test(test_errors_are_file_line_messages),
                cmocka_unit_test(test_defaults),
        };
        return cmocka_run_group_tests_name("vini", tests, NULL, NULL);
}
