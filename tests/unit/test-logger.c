/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "logger.h"

/* ---- backup names ---- */

static void test_backup_name_has_stamp_and_suffix(void **state) {
        struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 30, .tm_hour = 13,
                         .tm_min = 15, .tm_sec = 0 };
        char *a = logger_backup_name("/var/log/app.log", &tm, 0);
        char *b = logger_backup_name("app.log", &tm, 12);
        (void) state;

        assert_string_equal(a, "/var/log/app.log.20261130-131500");
        assert_string_equal(b, "app.log.20261130-131500-12");
        free(a);
        free(b);
}

static void test_backup_parse_accepts_what_name_makes(void **state) {
        LoggerBackup k;
        (void) state;

        assert_true(logger_backup_parse("app.log", "app.log.20261130-131500", &k));
        assert_string_equal(k.stamp, "20261130-131500");
        assert_int_equal(k.n, 0);
        assert_false(k.gz);
        assert_true(logger_backup_parse("app.log", "app.log.20261130-131500-7.gz", &k));
        assert_int_equal(k.n, 7);
        assert_true(k.gz);
        assert_true(logger_backup_parse("app.log", "app.log.20261130-131500-99999", &k));
        assert_int_equal(k.n, 99999);
}

static void test_backup_parse_rejects_other_files(void **state) {
        LoggerBackup k;
        const char *bad[] = {
                "app.log",                        "app.log.",
                "app.logx.20261130-131500",       "other.log.20261130-131500",
                "app.log.2026113-0131500",        "app.log.20261130_131500",
                "app.log.20261130-13150",         "app.log.20261130-131500-0",
                "app.log.20261130-131500-01",     "app.log.20261130-131500-",
                "app.log.20261130-131500.gz.1",   "app.log.20261130-131500.bak",
                "app.log.20261130-131500-123456", "app.log.20261130-131500-1x",
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(logger_backup_parse("app.log", bad[i], &k));
}

static void test_backup_order_is_stamp_then_number(void **state) {
        LoggerBackup a, b, c, d;
        (void) state;

        assert_true(logger_backup_parse("x", "x.20261130-131500-2", &a));
        assert_true(logger_backup_parse("x", "x.20261130-131500-10.gz", &b));
        assert_true(logger_backup_parse("x", "x.20261130-131500.gz", &c));
        assert_true(logger_backup_parse("x", "x.20261130-131501", &d));
        assert_true(logger_backup_compare(&c, &a) < 0);
        assert_true(logger_backup_compare(&a, &b) < 0); /* 2 before 10, not as strings */
        assert_true(logger_backup_compare(&b, &d) < 0);
        assert_int_equal(logger_backup_compare(&a, &a), 0);
        assert_true(logger_backup_parse("x", "x.20261130-131500-2.gz", &b));
        assert_int_equal(logger_backup_compare(&a, &b), 0); /* the same backup, compressed */
}

static void test_fit_cuts_at_the_last_whole_line(void **state) {
        const char *d = "one\ntwo\nthree\n";
        (void) state;

        assert_int_equal(logger_fit(d, strlen(d), 100), strlen(d));
        assert_int_equal(logger_fit(d, strlen(d), strlen(d)), strlen(d));
        assert_int_equal(logger_fit(d, strlen(d), 13), 8);
        assert_int_equal(logger_fit(d, strlen(d), 8), 8);
        assert_int_equal(logger_fit(d, strlen(d), 7), 4);
        assert_int_equal(logger_fit(d, strlen(d), 3), 0);
        assert_int_equal(logger_fit(d, strlen(d), 0), 0);
}

/* ---- a logger on a temporary directory ---- */

typedef struct Fixture {
        char dir[64];
        char path[128];
        VassalConfig cfg;
        Logger *l;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-logger.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/app.log", f->dir);
        f->cfg.logto = f->path;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        DIR *d = opendir(f->dir);
        for (struct dirent *de; d && (de = readdir(d));)
                if (de->d_name[0] != '.')
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        if (d)
                closedir(d);
        (void) rmdir(f->dir);
        logger_free(f->l);
        free(f);
        return 0;
}

static void open_logger(Fixture *f) {
        assert_int_equal(logger_new(&f->cfg, false, &f->l), 0);
}

static char *read_all(const char *path, size_t *ret_n) {
        FILE *fp = fopen(path, "re");
        assert_non_null(fp);
        char *data = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&data, &n);
        char buf[65536];
        for (size_t k; (k = fread(buf, 1, sizeof(buf), fp)) > 0;)
                fwrite(buf, 1, k, mem);
        fclose(fp);
        fclose(mem);
        *ret_n = n;
        return data;
}

typedef struct Listing {
        char *names[4096];
        size_t n;
} Listing;

static int compare_backup_names(const void *a, const void *b) {
        LoggerBackup x, y;
        assert_true(logger_backup_parse("app.log", *(char *const *) a, &x));
        assert_true(logger_backup_parse("app.log", *(char *const *) b, &y));
        return logger_backup_compare(&x, &y);
}

/* The backups, oldest first. */
static void list_backups(const Fixture *f, Listing *ls) {
        DIR *d = opendir(f->dir);
        LoggerBackup k;
        assert_non_null(d);
        ls->n = 0;
        for (struct dirent *de; (de = readdir(d));)
                if (logger_backup_parse("app.log", de->d_name, &k)) {
                        assert_true(ls->n < ELEMENTSOF(ls->names));
                        ls->names[ls->n++] = strdup(de->d_name);
                }
        closedir(d);
        qsort(ls->names, ls->n, sizeof(char *), compare_backup_names);
}

static void listing_done(Listing *ls) {
        for (size_t i = 0; i < ls->n; i++)
                free(ls->names[i]);
}

/* Every backup then the live file, in order, concatenated; checks each file's size. */
static char *read_everything(const Fixture *f, uint64_t max_file, size_t *ret_n, size_t *ret_files) {
        static Listing ls;
        char *all = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&all, &n);

        list_backups(f, &ls);
        for (size_t i = 0; i <= ls.n; i++) {
                char p[512];
                size_t k;
                if (i < ls.n)
                        snprintf(p, sizeof(p), "%s/%s", f->dir, ls.names[i]);
                else
                        snprintf(p, sizeof(p), "%s", f->path);
                char *data = read_all(p, &k);
                if (max_file > 0)
                        assert_true(k <= max_file);
                if (i < ls.n) /* a backup always ends at a line's end */
                        assert_true(k > 0 && data[k - 1] == '\n');
                fwrite(data, 1, k, mem);
                free(data);
        }
        fclose(mem);
        *ret_files = ls.n + 1;
        listing_done(&ls);
        *ret_n = n;
        return all;
}

static void test_partial_line_waits_for_its_end(void **state) {
        Fixture *f = *state;
        size_t n;
        open_logger(f);

        logger_feed(f->l, "first\nsec", 9);
        char *data = read_all(f->path, &n);
        assert_int_equal(n, 6);
        free(data);
        logger_feed(f->l, "ond\n", 4);
        data = read_all(f->path, &n);
        assert_int_equal(n, 13);
        assert_memory_equal(data, "first\nsecond\n", 13);
        free(data);
        logger_feed(f->l, "no end", 6);
        logger_flush(f->l);
        free(read_all(f->path, &n));
        assert_int_equal(n, 19);
}

/* Lines "line NNNNNNN ...\n" of varying length, fed in chunks that cut lines anywhere. */
static char *make_lines(size_t count, size_t *ret_n) {
        char *all = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&all, &n);
        for (size_t i = 0; i < count; i++)
                fprintf(mem, "line %07zu %.*s\n", i, (int) (i * 7919 % 90), 
                        "pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad "
                        "pad pad pad pad pad pad pad");
        fclose(mem);
        *ret_n = n;
        return all;
}

static void feed_in_random_chunks(Logger *l, const char *data, size_t n, unsigned seed) {
        for (size_t off = 0; off < n;) {
                seed = seed * 1103515245 + 12345;
                size_t k = MIN(n - off, (size_t) (seed >> 8) % 3000 + 1);
                logger_feed(l, data + off, k);
                off += k;
        }
}

static void test_rotation_loses_and_cuts_nothing(void **state) {
        Fixture *f = *state;
        size_t n, got_n, files;
        char *lines = make_lines(20000, &n);

        f->cfg.log_maxsize = 8192;
        open_logger(f);
        feed_in_random_chunks(f->l, lines, n, 42);
        logger_flush(f->l);

        char *got = read_everything(f, 8192, &got_n, &files);
        assert_true(files > n / 8192);
        assert_int_equal(got_n, n);
        assert_memory_equal(got, lines, n); /* every line, whole, in order */
        free(got);
        free(lines);
}

static void test_maxbackups_keeps_the_newest(void **state) {
        Fixture *f = *state;
        size_t n, got_n, files;
        char *lines = make_lines(5000, &n);

        f->cfg.log_maxsize = 4096;
        f->cfg.log_maxbackups = 3;
        open_logger(f);
        feed_in_random_chunks(f->l, lines, n, 7);
        logger_flush(f->l);

        char *got = read_everything(f, 4096, &got_n, &files);
        assert_int_equal(files, 4);
        /* What is left is the end of what was logged, without a gap. */
        assert_true(got_n > 3 * 3000 && got_n < n);
        assert_memory_equal(got, lines + n - got_n, got_n);
        free(got);
        free(lines);
}

static void test_backupname_is_one_fixed_file(void **state) {
        Fixture *f = *state;
        char old[256];
        size_t n, k1, k2;
        char *lines = make_lines(2000, &n);
        Listing ls;

        snprintf(old, sizeof(old), "%s/app.log.old", f->dir);
        f->cfg.log_maxsize = 4096;
        f->cfg.log_backupname = old;
        open_logger(f);
        feed_in_random_chunks(f->l, lines, n, 3);
        logger_flush(f->l);

        list_backups(f, &ls);
        assert_int_equal(ls.n, 0);
        char *a = read_all(old, &k1), *b = read_all(f->path, &k2);
        assert_true(k1 <= 4096 && k2 <= 4096 && k1 > 0);
        /* The backup holds the lines just before the live file's. */
        assert_memory_equal(a, lines + n - k2 - k1, k1);
        assert_memory_equal(b, lines + n - k2, k2);
        free(a);
        free(b);
        free(lines);
}

static void test_a_line_larger_than_maxsize_goes_alone(void **state) {
        Fixture *f = *state;
        size_t got_n, files;
        char big[3000];

        memset(big, 'x', sizeof(big));
        big[sizeof(big) - 1] = '\n';
        f->cfg.log_maxsize = 1000;
        open_logger(f);
        logger_feed(f->l, "before\n", 7);
        logger_feed(f->l, big, sizeof(big));
        logger_feed(f->l, "after\n", 6);
        logger_flush(f->l);

        char *got = read_everything(f, 0, &got_n, &files);
        assert_int_equal(files, 3); /* "before", the big line alone, "after" */
        assert_int_equal(got_n, 7 + sizeof(big) + 6);
        free(got);
}

static void test_an_overlong_line_is_written_in_pieces(void **state) {
        Fixture *f = *state;
        size_t n, k = LOGGER_LINE_MAX + 100;
        char *big = malloc(k);

        memset(big, 'y', k);
        open_logger(f);
        logger_feed(f->l, big, k); /* no newline yet: the first LOGGER_LINE_MAX go out */
        free(read_all(f->path, &n));
        assert_true(n >= LOGGER_LINE_MAX);
        logger_feed(f->l, "\n", 1);
        free(read_all(f->path, &n));
        assert_int_equal(n, k + 1);
        free(big);
}

static void test_backups_within_one_second_get_numbers(void **state) {
        Fixture *f = *state;
        Listing ls;
        char line[100];

        f->cfg.log_maxsize = 100;
        open_logger(f);
        memset(line, 'z', sizeof(line));
        line[sizeof(line) - 1] = '\n';
        for (int i = 0; i < 5; i++)
                logger_feed(f->l, line, sizeof(line));
        list_backups(f, &ls);
        assert_int_equal(ls.n, 4); /* the fifth line is in the live file */
        for (size_t i = 0; i + 1 < ls.n; i++)
                assert_string_not_equal(ls.names[i], ls.names[i + 1]);
        listing_done(&ls);
}

/* req-logger: marked lines go, unmarked, to their own file; the rest stays in the log. Both
 * rotate with log-maxsize. */
static void test_req_logger_splits_request_lines(void **state) {
        Fixture *f = *state;
        char req[160];
        size_t n;
        snprintf(req, sizeof(req), "%s/req.log", f->dir);
        f->cfg.req_logger = req;
        f->cfg.log_maxsize = 40;
        open_logger(f);

        const char in[] = "app line\n\x1e[pid: 1] GET /a\n\x1e[pid: 1] GET /b\nother\n";
        logger_feed(f->l, in, sizeof(in) - 1);
        char *data = read_all(f->path, &n);
        assert_int_equal(n, 15);
        assert_memory_equal(data, "app line\nother\n", 15);
        free(data);
        data = read_all(req, &n);
        assert_int_equal(n, 32);
        assert_memory_equal(data, "[pid: 1] GET /a\n[pid: 1] GET /b\n", 32);
        free(data);
        /* Past 40 bytes the request log rotates to a stamped backup of its own name. */
        logger_feed(f->l, "\x1e[pid: 1] GET /c\n", 17);
        data = read_all(req, &n);
        assert_int_equal(n, 16);
        assert_memory_equal(data, "[pid: 1] GET /c\n", 16);
        free(data);
        f->cfg.req_logger = NULL;
}

/* log-date: every line but the request lines starts with the date, in the format given. */
static void test_log_date_dates_other_lines(void **state) {
        Fixture *f = *state;
        size_t n;
        f->cfg.log_date = (char *) "[%Y] ";
        open_logger(f);

        logger_feed(f->l, "hello\n\x1e" "request\n", 16);
        char *data = read_all(f->path, &n);
        f->cfg.log_date = NULL;
        data[n] = 0;
        assert_int_equal(n, 7 + 6 + 8);
        assert_true(data[0] == '[' && data[5] == ']' && data[6] == ' ');
        assert_memory_equal(data + 7, "hello\nrequest\n", 14);
        free(data);
}

/* A marked line without req-logger or log-date (left by workers of an older config) is
 * written unmarked. */
static void test_mark_is_always_removed(void **state) {
        Fixture *f = *state;
        size_t n;
        open_logger(f);
        logger_feed(f->l, "\x1e" "request\n", 9);
        char *data = read_all(f->path, &n);
        assert_int_equal(n, 8);
        assert_memory_equal(data, "request\n", 8);
        free(data);
}

int main(void) {
        log_set_max_level(LOG_WARNING); /* not every "log rotated to" */
        const struct CMUnitTest pure[] = {
                cmocka_unit_test(test_backup_name_has_stamp_and_suffix),
                cmocka_unit_test(test_backup_parse_accepts_what_name_makes),
                cmocka_unit_test(test_backup_parse_rejects_other_files),
                cmocka_unit_test(test_backup_order_is_stamp_then_number),
                cmocka_unit_test(test_fit_cuts_at_the_last_whole_line),
        };
        const struct CMUnitTest files[] = {
                cmocka_unit_test_setup_teardown(test_partial_line_waits_for_its_end, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_rotation_loses_and_cuts_nothing, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_maxbackups_keeps_the_newest, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_backupname_is_one_fixed_file, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_a_line_larger_than_maxsize_goes_alone, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_an_overlong_line_is_written_in_pieces, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_backups_within_one_second_get_numbers, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_req_logger_splits_request_lines, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_log_date_dates_other_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mark_is_always_removed, setup, teardown),
        };
        return cmocka_run_group_tests_name("logger helpers", pure, NULL, NULL) |
               cmocka_run_group_tests_name("logger files", files, NULL, NULL);
}
