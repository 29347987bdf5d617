/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../emperor/scan.h"

typedef struct Fixture {
        char dir[64];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-scan.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void write_file(Fixture *f, const char *name, const char *text) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", f->dir, name);
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static const ScanEntry *find(const ScanEntry *e, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(e[i].name, name) == 0)
                        return &e[i];
        return NULL;
}

static void test_ini_names_and_droppings(void **state) {
        char name[256];
        (void) state;
        assert_true(scan_name_is_ini("app.ini", name, sizeof(name)));
        assert_string_equal(name, "app");
        assert_true(scan_name_is_ini("my-app_2.staging.ini", name, sizeof(name)));
        assert_string_equal(name, "my-app_2.staging");
        assert_false(scan_name_is_ini(".app.ini", name, sizeof(name)));
        assert_false(scan_name_is_ini(".#app.ini", name, sizeof(name)));
        assert_false(scan_name_is_ini("app.ini~", name, sizeof(name)));
        assert_false(scan_name_is_ini("app.ini.swp", name, sizeof(name)));
        assert_false(scan_name_is_ini("4913", name, sizeof(name)));
        assert_false(scan_name_is_ini(".ini", name, sizeof(name)));
        assert_false(scan_name_is_ini("sp ace.ini", name, sizeof(name)));
}

static void test_scan_lists_inis_and_follows_symlinks(void **state) {
        Fixture *f = *state;
        ScanEntry *e;
        size_t n;
        char target[256], link[256];

        write_file(f, "a.ini", "[uwsgi]\n");
        write_file(f, ".hidden.ini", "[uwsgi]\n");
        write_file(f, "b.ini~", "[uwsgi]\n");
        write_file(f, "notes.txt", "x\n");
        write_file(f, "real.conf", "[uwsgi]\nprocesses = 2\n");
        snprintf(target, sizeof(target), "%s/real.conf", f->dir);
        snprintf(link, sizeof(link), "%s/linked.ini", f->dir);
        assert_int_equal(symlink(target, link), 0);
        snprintf(link, sizeof(link), "%s/dangling.ini", f->dir);
        assert_int_equal(symlink("/nonexistent/x.ini", link), 0);
        snprintf(link, sizeof(link), "%s/dir.ini", f->dir);
        assert_int_equal(mkdir(link, 0755), 0);

        assert_int_equal(scan_dir(f->dir, &e, &n), 0);
        assert_int_equal(n, 2);
        assert_non_null(find(e, n, "a"));
        const ScanEntry *l = find(e, n, "linked");
        assert_non_null(l);
        assert_int_equal(l->key.size, strlen("[uwsgi]\nprocesses = 2\n"));
        scan_free(e, n);
}

static void test_key_changes_on_edit_and_touch_but_not_otherwise(void **state) {
        Fixture *f = *state;
        ScanEntry *e1, *e2, *e3, *e4;
        size_t n1, n2, n3, n4;
        char path[256];

        write_file(f, "a.ini", "[uwsgi]\nprocesses = 1\n");
        assert_int_equal(scan_dir(f->dir, &e1, &n1), 0);
        assert_int_equal(scan_dir(f->dir, &e2, &n2), 0);
        assert_true(scan_key_equal(&e1[0].key, &e2[0].key));

        /* Same size, other content: the hash tells them apart even within one mtime tick. */
        write_file(f, "a.ini", "[uwsgi]\nprocesses = 2\n");
        assert_int_equal(scan_dir(f->dir, &e3, &n3), 0);
        assert_false(scan_key_equal(&e2[0].key, &e3[0].key));

        /* A bare touch, same content. */
        snprintf(path, sizeof(path), "%s/a.ini", f->dir);
        struct timespec ts[2] = { { 0, UTIME_NOW }, { 1000000000, 0 } };
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
        assert_int_equal(scan_dir(f->dir, &e4, &n4), 0);
        assert_int_equal(e3[0].key.hash, e4[0].key.hash);
        assert_false(scan_key_equal(&e3[0].key, &e4[0].key));
        scan_free(e1, n1);
        scan_free(e2, n2);
        scan_free(e3, n3);
        scan_free(e4, n4);
}

static const ScanKey *known_key(void *userdata, const char *name) {
        return strcmp(name, "a") == 0 ? userdata : NULL;
}

/* A file whose inode, size and times are what the caller knows is not read again: the hash
 * comes from the caller (here a made-up one, so the test sees it was not computed); any
 * write changes the times, and then it is read. */
static void test_known_unchanged_files_are_not_read(void **state) {
        Fixture *f = *state;
        ScanEntry *e1, *e2, *e3;
        size_t n1, n2, n3;

        write_file(f, "a.ini", "[uwsgi]\nprocesses = 1\n");
        assert_int_equal(scan_dir(f->dir, &e1, &n1), 0);
        ScanKey known = e1[0].key;
        known.hash ^= 0xdeadbeef;
        assert_int_equal(scan_dir_full(f->dir, known_key, &known, &e2, &n2, NULL, NULL), 0);
        assert_int_equal(e2[0].key.hash, known.hash);
        write_file(f, "a.ini", "[uwsgi]\nprocesses = 2\n");
        assert_int_equal(scan_dir_full(f->dir, known_key, &known, &e3, &n3, NULL, NULL), 0);
        assert_int_not_equal(e3[0].key.hash, known.hash);
        assert_int_not_equal(e3[0].key.hash, e1[0].key.hash);
        scan_free(e1, n1);
        scan_free(e2, n2);
        scan_free(e3, n3);
}

static void test_missing_dir_is_an_error(void **state) {
        ScanEntry *e;
        size_t n;
        (void) state;
        assert_int_equal(scan_dir("/nonexistent/conf.d", &e, &n), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ini_names_and_droppings),
                cmocka_unit_test_setup_teardown(test_scan_lists_inis_and_follows_symlinks, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_known_unchanged_files_are_not_read, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_key_changes_on_edit_and_touch_but_not_otherwise,
                                                setup, teardown),
                cmocka_unit_test(test_missing_dir_is_an_error),
        };
        return cmocka_run_group_tests_name("scan", tests, NULL, NULL);
}
