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
#include <unistd.h>

#include "vini.h"
#include "vkeys.h"

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

/* The vassal's aliases, sections and interpolation, from the same lib code. */
static void test_aliases_sections_and_interpolation(void **state) {
        VassalIni v;
        char *error = NULL;
        const char *socks[8];
        (void) state;
        static const char text[] = "[uwsgi]\nport = 8080\nhttp11-socket = :%(port)\n"
                                   "[other]\nsocket = /nope\n"
                                   "[vassal]\nuwsgi-socket = %d%n.sock\nlisten = 64\n";

        assert_int_equal(vini_load_string(&v, "/srv/apps/site.ini", text, sizeof(text) - 1,
                                          &error), 0);
        assert_int_equal(vini_sockets(&v, socks, 8), 2);
        assert_string_equal(socks[0], ":8080");
        assert_string_equal(socks[1], "/srv/apps/site.sock");
        assert_int_equal(v.listen, 64);
        vini_done(&v);

        /* FILE:SECTION reads that section only. */
        char *path = write_ini("[uwsgi]\nhttp = :1\n[blue]\nhttp = :2\nreload-mercy = 9\n");
        char spec[128];
        snprintf(spec, sizeof(spec), "%s:blue", path);
        assert_int_equal(vini_load(&v, spec, &error), 0);
        assert_int_equal(vini_sockets(&v, socks, 8), 1);
        assert_string_equal(socks[0], ":2");
        assert_int_equal(v.reload_mercy, 9);
        vini_done(&v);
        unlink(path);
}

static void test_logging_keys_are_read(void **state) {
        VassalIni v;
        char *error = NULL;
        (void) state;
        static const char text[] = "[uwsgi]\nlogto = /var/log/%n.log\nlog-maxsize = 64k\n"
                                   "log-backupname = /var/log/old\ndaemonize = /d\n"
                                   "chdir = /srv\ndisable-logging =\n";

        assert_int_equal(vini_load_string(&v, "/etc/apps/web.ini", text, sizeof(text) - 1,
                                          &error), 0);
        assert_string_equal(v.logto, "/var/log/web.log");
        assert_int_equal(v.log_maxsize, 65536);
        assert_string_equal(v.log_backupname, "/var/log/old");
        assert_string_equal(v.daemonize, "/d");
        assert_string_equal(v.chdir, "/srv");
        assert_true(v.disable_logging);
        vini_done(&v);
}

static void test_log_path_as_the_vassal_opens_it(void **state) {
        char *p = NULL;
        (void) state;

        assert_int_equal(vkeys_log_path(NULL, NULL, "/srv", "/", &p), 0);
        assert_null(p);
        assert_int_equal(vkeys_log_path("", "", NULL, "/", &p), 0);
        assert_null(p);
        assert_int_equal(vkeys_log_path("/var/log/a", "/d", "x", NULL, &p), 1);
        assert_string_equal(p, "/var/log/a");
        free(p);
        /* daemonize names the file without logto. */
        assert_int_equal(vkeys_log_path(NULL, "d.log", "/srv/", "/home", &p), 1);
        assert_string_equal(p, "/srv/d.log");
        free(p);
        /* chdir relative to cwd, the file relative to chdir, joined as written. */
        assert_int_equal(vkeys_log_path("../logs/a.log", NULL, "app", "/home/u/", &p), 1);
        assert_string_equal(p, "/home/u/app/../logs/a.log");
        free(p);
        assert_int_equal(vkeys_log_path("a.log", NULL, NULL, "/", &p), 1);
        assert_string_equal(p, "/a.log");
        free(p);
        /* cwd unknown and needed: as far as it is known. */
        assert_int_equal(vkeys_log_path("a.log", NULL, "app", NULL, &p), -EADDRNOTAVAIL);
        assert_string_equal(p, "app/a.log");
        free(p);
        assert_int_equal(vkeys_log_path("a.log", NULL, NULL, NULL, &p), -EADDRNOTAVAIL);
        assert_string_equal(p, "a.log");
        free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sockets_in_the_order_the_vassal_adopts_them),
                cmocka_unit_test(test_errors_are_file_line_messages),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_aliases_sections_and_interpolation),
                cmocka_unit_test(test_logging_keys_are_read),
                cmocka_unit_test(test_log_path_as_the_vassal_opens_it),
        };
        return cmocka_run_group_tests_name("vini", tests, NULL, NULL);
}
