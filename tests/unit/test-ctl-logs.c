/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <sqlite3.h>

#include "../../ctl/ctl.h" /* the pattern rule adds no -Ictl */
#include "../../ctl/logs.h"
#include "macro.h"
#include "store.h"

/* ---- what logs.c takes from ctl/main.c, faked ---- */

CtlArgs ctl_args;
bool ctl_quiet_not_running;
static char last_error[1024];
static int fake_status;          /* what ctl_request() returns */
static const char *fake_reply;   /* its reply, on CTL_EXIT_OK */
static const char *fake_db;      /* ctl_db_path() */
static bool fake_quiet_seen;     /* ctl_request() was asked to keep quiet */

int ctl_err(int status, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(last_error, sizeof(last_error), fmt, ap);
        va_end(ap);
        return status;
}

int ctl_request(const char *cmd, const char *app, bool all, bool print_json, cJSON **ret) {
        assert_string_equal(cmd, "status");
        assert_non_null(app);
        assert_false(all);
        assert_false(print_json);
        *ret = NULL;
        fake_quiet_seen = ctl_quiet_not_running;
        if (fake_status == CTL_EXIT_NOT_RUNNING)
                return ctl_quiet_not_running ? fake_status
                                             : ctl_err(fake_status, "the emperor is not running");
        if (fake_status != CTL_EXIT_OK)
                return ctl_err(fake_status, "no vassal named '%s'", app);
        *ret = cJSON_Parse(fake_reply);
        assert_non_null(*ret);
        return CTL_EXIT_OK;
}

char *ctl_db_path(void) {
        return strdup(fake_db ? fake_db : "/nonexistent/stats.db");
}

/* ---- a scratch directory per test ---- */

static char dir[64];

static int setup(void **state) {
        (void) state;
        strcpy(dir, "/tmp/test-ctl-logs.XXXXXX");
        assert_non_null(mkdtemp(dir));
        ctl_args = (CtlArgs) {};
        last_error[0] = 0;
        fake_status = CTL_EXIT_OK;
        fake_reply = NULL;
        fake_db = NULL;
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static int teardown(void **state) {
        (void) state;
        assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
        return 0;
}

/* dir/name; a static buffer per call slot, enough for one expression. */
static const char *at(const char *name) {
        static char bufs[4][512];
        static unsigned i;
        char *b = bufs[i++ % ELEMENTSOF(bufs)];
        (void) snprintf(b, 512, "%s/%s", dir, name);
        return b;
}

static void write_file(const char *path, const char *text, bool append) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}
#define append(name, text) write_file(at(name), text, true)

static void rename_file(const char *from, const char *to) {
        assert_int_equal(rename(at(from), at(to)), 0);
}

/* Output goes to a memfd; out_take() returns what was written since the last call. */
static int out_new(void) {
        int fd = memfd_create("out", MFD_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static char *out_take(int fd) {
        struct stat st;
        char *s;
        assert_int_equal(fstat(fd, &st), 0);
        s = calloc(1, (size_t) st.st_size + 1);
        assert_non_null(s);
        assert_int_equal(pread(fd, s, (size_t) st.st_size, 0), st.st_size);
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return s;
}

static void assert_out(int fd, const char *expected) {
        char *s = out_take(fd);
        assert_string_equal(s, expected);
        free(s);
}

/* ---- -n ---- */

static void test_count_is_digits_only(void **state) {
        uint64_t n = 99;
        (void) state;
        assert_int_equal(logs_parse_count("10", &n), 0);
        assert_int_equal(n, 10);
        assert_int_equal(logs_parse_count("0", &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(logs_parse_count("18446744073709551615", &n), 0);
        assert_true(n == UINT64_MAX);
        const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1x", "0x10", "1e3",
                              "18446744073709551616", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(logs_parse_count(bad[i], &n), -EINVAL);
        assert_int_equal(logs_parse_count(NULL, &n), -EINVAL);
}

/* ---- the last lines ---- */

/* Where the last n lines of text start, and how many there are. */
static void assert_tail(const char *text, uint64_t n, uint64_t start, uint64_t found) {
        int fd = out_new();
        uint64_t s = 12345, f = 12345;
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(logfollow_tail_start(fd, strlen(text), n, &s, &f), 0);
        assert_int_equal(s, start);
        assert_int_equal(f, found);
        close(fd);
}

static void test_tail_finds_where_the_last_lines_start(void **state) {
        (void) state;
        assert_tail("a\nbb\nccc\n", 1, 5, 1);
        assert_tail("a\nbb\nccc\n", 2, 2, 2);
        assert_tail("a\nbb\nccc\n", 3, 0, 3);
        assert_tail("a\nbb\nccc\n", 10, 0, 3);
        assert_tail("a\nbb\nccc\n", 0, 9, 0);
}

static void test_tail_counts_a_last_line_without_its_newline(void **state) {
        (void) state;
        assert_tail("a\nbb\ncc", 1, 5, 1);
        assert_tail("a\nbb\ncc", 2, 2, 2);
        assert_tail("a\nbb\ncc", 5, 0, 3);
        assert_tail("partial", 1, 0, 1);
}

static void test_tail_of_empty_lines_and_empty_files(void **state) {
        (void) state;
        assert_tail("", 5, 0, 0);
        assert_tail("\n", 1, 0, 1);
        assert_tail("\n\n\n", 2, 1, 2);
        assert_tail("\n\n\n", 9, 0, 3);
}

static void test_tail_crosses_block_boundaries(void **state) {
        int fd = out_new();
        uint64_t s, f, total = 0;
        char line[32];
        (void) state;

        /* 100000 lines of 12 bytes: 1.2 MB, many 64 KiB blocks, lines cut by block edges. */
        FILE *w = fdopen(dup(fd), "w");
        assert_non_null(w);
        for (int i = 0; i < 100000; i++)
                total += (uint64_t) fprintf(w, "line %06d\n", i);
        fclose(w);
        assert_int_equal(logfollow_tail_start(fd, total, 70001, &s, &f), 0);
        assert_int_equal(s, (100000 - 70001) * 12);
        assert_int_equal(f, 70001);
        assert_int_equal(pread(fd, line, 12, (off_t) s), 12);
        assert_memory_equal(line, "line 029999\n", 12);
        /* Only the first `end` bytes count: a line still being written is not there. */
        assert_int_equal(logfollow_tail_start(fd, 12 * 5, 2, &s, &f), 0);
        assert_int_equal(s, 36);
        close(fd);
}

static void test_tail_of_a_line_longer_than_a_block(void **state) {
        size_t n = 300000;
        char *text = malloc(n + 4);
        (void) state;
        assert_non_null(text);
        memcpy(text, "x\n", 2);
        memset(text + 2, 'y', n);
        memcpy(text + 2 + n, "\n", 2);
        assert_tail(text, 1, 2, 1);
        assert_tail(text, 2, 0, 2);
        free(text);
}

static void on_alarm(int sig) {
        (void) sig;
        fail_msg("logfollow_tail_start() read the whole file");
}

/* A terabyte hole before the last lines: reading it all would take minutes. */
static void test_tail_reads_only_the_end_of_a_huge_file(void **state) {
        int fd = open(at("huge.log"), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        const uint64_t hole = UINT64_C(1) << 40;
        uint64_t s, f;
        (void) state;

        assert_true(fd >= 0);
        if (pwrite(fd, "older\nlast\n", 11, (off_t) hole) != 11) {
                close(fd);
                skip(); /* a file system without sparse files that large */
        }
        signal(SIGALRM, on_alarm);
        alarm(10);
        assert_int_equal(logfollow_tail_start(fd, hole + 11, 1, &s, &f), 0);
        alarm(0);
        assert_true(s == hole + 6);
        assert_int_equal(f, 1);
        close(fd);
}

/* ---- backup names ---- */

static void test_backup_names_are_parsed_and_ordered(void **state) {
        LogFollowBackupKey a, b, c, d;
        (void) state;

        assert_true(logfollow_backup_parse("app.log", "app.log.20260101-120000", &a));
        assert_string_equal(a.stamp, "20260101-120000");
        assert_int_equal(a.n, 0);
        assert_false(a.gz);
        assert_true(logfollow_backup_parse("app.log", "app.log.20260101-120000-2", &b));
        assert_int_equal(b.n, 2);
        assert_true(logfollow_backup_parse("app.log", "app.log.20260101-120000-10.gz", &c));
        assert_int_equal(c.n, 10);
        assert_true(c.gz);
        assert_true(logfollow_backup_parse("app.log", "app.log.20260101-120001", &d));
        assert_true(logfollow_backup_compare(&a, &b) < 0);
        assert_true(logfollow_backup_compare(&b, &c) < 0); /* -2 before -10 */
        assert_true(logfollow_backup_compare(&c, &d) < 0);
        assert_int_equal(logfollow_backup_compare(&c, &c), 0);

        const char *not[] = { "app.log", "app.log.1", "app.log.20260101-12000",
                              "app.log.2026010-1200000",
                              "app.log.20260101-120000-0", "app.log.20260101-120000-01",
                              "app.log.20260101-120000-123456", "app.log.20260101-120000.bz2",
                              "app.log.20260101-120000-", "app.log.20260101x120000",
                              "other.log.20260101-120000", "app.logx20260101-120000" };
        for (size_t i = 0; i < ELEMENTSOF(not); i++)
                assert_false(logfollow_backup_parse("app.log", not[i], &a));
}

/* ---- following ---- */

static LogFollow *follower(const char *name, const char *backup, int out) {
        LogFollow *f = NULL;
        assert_int_equal(logfollow_new(at(name), backup ? at(backup) : NULL, logfollow_write_fd,
                                       (void *) (intptr_t) out, &f), 0);
        return f;
}

static void test_open_prints_the_last_lines_then_follows_from_there(void **state) {
        int out = out_new();
        (void) state;

        append("app.log", "1\n2\n3\n");
        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 2), 1);
        assert_out(out, "2\n3\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "");
        append("app.log", "4\npart");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "4\npart");
        append("app.log", "ial\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "ial\n");
        logfollow_free(f);
        close(out);
}

static void test_open_with_zero_lines_prints_nothing(void **state) {
        int out = out_new();
        (void) state;

        append("app.log", "1\n2\n");
        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 0), 1);
        assert_out(out, "");
        append("app.log", "3\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "3\n");
        logfollow_free(f);
        close(out);
}

static void test_open_takes_missing_lines_from_the_newest_backup(void **state) {
        int out = out_new();
        (void) state;

        append("app.log.20260101-120000", "old1\nold2\n");
        append("app.log.20260101-120000-1", "a\nb\nc\n");
        append("app.log.20260101-115959-9", "older\n");
        append("app.log.20260101-130000.gz", "compressed: never read\n");
        append("app.log", "d\n");
        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 3), 1);
        assert_out(out, "b\nc\nd\n");
        logfollow_free(f);

        /* With log-backupname, that file is the newest backup. */
        append("app.log.old", "x\ny\n");
        f = follower("app.log", "app.log.old", out);
        assert_int_equal(logfollow_open(f, 2), 1);
        assert_out(out, "y\nd\n");
        logfollow_free(f);
        close(out);
}

static void test_rotation_drains_the_old_file_before_the_new_one(void **state) {
        int out = out_new();
        (void) state;

        append("app.log", "1\n");
        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 10), 1);
        assert_out(out, "1\n");
        append("app.log", "2\n");
        rename_file("app.log", "app.log.20260101-120000");
        append("app.log.20260101-120000", "3\n"); /* still written to under its new name */
        append("app.log", "4\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "2\n3\n4\n");
        append("app.log", "5\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "5\n");
        logfollow_free(f);
        close(out);
}

/* The vassal can rotate many times within one burst: the backups made while we were not
 * looking are read in order, -2 before -10. */
static void test_several_rotations_between_steps_lose_nothing(void **state) {
        int out = out_new();
        char name[64], line[16], expected[256] = "";
        (void) state;

        append("app.log.20260101-115900", "before we started\n");
        append("app.log", "0\n");
        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 1), 1);
        assert_out(out, "0\n");
        for (int i = 1; i <= 12; i++) {
                snprintf(line, sizeof(line), "%d\n", i);
                strcat(expected, line);
                append("app.log", line);
                if (i == 12)
                        break;
                if (i == 1)
                        snprintf(name, sizeof(name), "app.log.20260101-120000");
                else
                        snprintf(name, sizeof(name), "app.log.20260101-120000-%d", i - 1);
                rename_file("app.log", name);
        }
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, expected);
        logfollow_free(f);
        close(out);
}

static void test_rotation_to_a_fixed_backupname(void **state) {
        int out = out_new();
        (void) state;

        append("app.log.bak", "from before\n");
        append("app.log", "1\n");
        LogFollow *f = follower("app.log", "app.log.bak", out);
        assert_int_equal(logfollow_open(f, 1), 1);
        assert_out(out, "1\n");
        rename_file("app.log", "app.log.bak");
        append("app.log", "2\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "2\n");
        /* Two rotations unseen: the first file is overwritten, the newest survives. */
        append("app.log", "3\n");
        rename_file("app.log", "app.log.bak");
        append("app.log", "4\n");
        rename_file("app.log", "app.log.bak");
        append("app.log", "5\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "3\n4\n5\n");
        logfollow_free(f);
        close(out);
}

static void test_truncated_file_is_read_again_from_its_start(void **state) {
        int out = out_new();
        (void) state;

        append("app.log", "a long first line\n");
        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 1), 1);
        assert_out(out, "a long first line\n");
        assert_int_equal(truncate(at("app.log"), 0), 0);
        append("app.log", "new\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "new\n");
        logfollow_free(f);
        close(out);
}

static void test_a_file_that_appears_later_is_read_from_its_start(void **state) {
        int out = out_new();
        (void) state;

        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 10), 0);
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "");
        append("app.log", "hello\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "hello\n");
        /* Removed, then made again: the new one from its start, nothing of the old twice. */
        assert_int_equal(unlink(at("app.log")), 0);
        assert_int_equal(logfollow_step(f), 0);
        append("app.log", "again\n");
        assert_int_equal(logfollow_step(f), 0);
        assert_out(out, "again\n");
        logfollow_free(f);
        close(out);
}

static void test_a_closed_output_is_epipe(void **state) {
        int p[2];
        (void) state;

        signal(SIGPIPE, SIG_IGN);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        close(p[0]);
        append("app.log", "1\n");
        LogFollow *f = follower("app.log", NULL, p[1]);
        assert_int_equal(logfollow_open(f, 1), -EPIPE);
        logfollow_free(f);
        close(p[1]);
}

static void test_a_directory_is_not_a_log(void **state) {
        int out = out_new();
        (void) state;

        assert_int_equal(mkdir(at("app.log"), 0755), 0);
        LogFollow *f = follower("app.log", NULL, out);
        assert_int_equal(logfollow_open(f, 1), -EISDIR);
        logfollow_free(f);
        close(out);
}

/* ---- the ini ---- */

static void test_source_resolves_the_ini_as_the_vassal_does(void **state) {
        LogFollowSource s;
        char expected[512];
        (void) state;

        setenv("TEST_CTL_LOGS_DIR", "/var/log/x", 1);
        append("a.ini", "[uwsgi]\nbase = /srv\nlogto = %(base)/%n.log\n"
                        "log-backupname = $(TEST_CTL_LOGS_DIR)/old\n");
        assert_int_equal(logfollow_source_load(at("a.ini"), NULL, &s, NULL), 0);
        assert_string_equal(s.path, "/srv/a.log");
        assert_string_equal(s.backupname, "/var/log/x/old");
        logfollow_source_done(&s);

        /* %d is the ini's directory, with its slash. */
        append("b.ini", "[uwsgi]\nlogto = %dlogs/b.log\n");
        assert_int_equal(logfollow_source_load(at("b.ini"), NULL, &s, NULL), 0);
        snprintf(expected, sizeof(expected), "%s/logs/b.log", dir);
        assert_string_equal(s.path, expected);
        assert_null(s.backupname);
        logfollow_source_done(&s);

        /* The latest logto wins; daemonize only without one; [vassal] is read too. */
        append("c.ini", "[uwsgi]\nlogto = /one\ndaemonize = /d\n[vassal]\nlogto = /two\n"
                        "[other]\nlogto = /three\n");
        assert_int_equal(logfollow_source_load(at("c.ini"), NULL, &s, NULL), 0);
        assert_string_equal(s.path, "/two");
        logfollow_source_done(&s);
        append("d.ini", "[uwsgi]\ndaemonize = /var/log/d.log\n");
        assert_int_equal(logfollow_source_load(at("d.ini"), NULL, &s, NULL), 0);
        assert_string_equal(s.path, "/var/log/d.log");
        logfollow_source_done(&s);
}

static void test_source_without_a_log_file_has_no_path(void **state) {
        LogFollowSource s;
        (void) state;

        append("e.ini", "[uwsgi]\nhttp-socket = :8000\n[other]\nlogto = /x\n");
        assert_int_equal(logfollow_source_load(at("e.ini"), NULL, &s, NULL), 0);
        assert_null(s.path);
        logfollow_source_done(&s);
        append("f.ini", "[uwsgi]\nlogto =\n");
        assert_int_equal(logfollow_source_load(at("f.ini"), NULL, &s, NULL), 0);
        assert_null(s.path);
        logfollow_source_done(&s);
}

/* Without the vassal's word: a relative logto is relative to an absolute chdir; relative to
 * where the vassal was started, it is refused (-EADDRNOTAVAIL), not guessed. */
static void test_source_from_the_ini_needs_an_absolute_directory(void **state) {
        LogFollowSource s;
        (void) state;

        append("g.ini", "[uwsgi]\nchdir = /srv/app/\nlogto = log/app.log\n"
                        "log-backupname = app.old\n");
        assert_int_equal(logfollow_source_load(at("g.ini"), NULL, &s, NULL), 0);
        assert_string_equal(s.path, "/srv/app/log/app.log");
        assert_string_equal(s.backupname, "/srv/app/app.old");
        logfollow_source_done(&s);

        append("h.ini", "[uwsgi]\nlogto = app.log\n");
        assert_int_equal(logfollow_source_load(at("h.ini"), NULL, &s, NULL), -EADDRNOTAVAIL);
        assert_string_equal(s.path, "app.log");
        logfollow_source_done(&s);
        append("h2.ini", "[uwsgi]\nchdir = srv\ndaemonize = d.log\n");
        assert_int_equal(logfollow_source_load(at("h2.ini"), NULL, &s, NULL), -EADDRNOTAVAIL);
        assert_string_equal(s.path, "srv/d.log");
        logfollow_source_done(&s);
}

/* The running vassal's report wins over the ini: it is where the file really is. A relative
 * log-backupname is placed in the directory the report shows. */
static void test_source_takes_the_reported_path(void **state) {
        LogFollowSource s;
        (void) state;

        append("r.ini", "[uwsgi]\nlogto = logs/app.log\nlog-backupname = app.old\n");
        assert_int_equal(logfollow_source_load(at("r.ini"), "/run/here/logs/app.log", &s, NULL), 0);
        assert_string_equal(s.path, "/run/here/logs/app.log");
        assert_string_equal(s.backupname, "/run/here/app.old");
        logfollow_source_done(&s);

        /* An ini edited since: the path still holds, the backup's directory is unknown. */
        assert_int_equal(logfollow_source_load(at("r.ini"), "/elsewhere/other.log", &s, NULL), 0);
        assert_string_equal(s.path, "/elsewhere/other.log");
        assert_null(s.backupname);
        logfollow_source_done(&s);

        /* "": stderr, whatever the ini says now. */
        assert_int_equal(logfollow_source_load(at("r.ini"), "", &s, NULL), 0);
        assert_null(s.path);
        logfollow_source_done(&s);

        /* An ini that no longer loads does not hide the report. */
        assert_int_equal(logfollow_source_load(at("missing.ini"), "/var/log/x.log", &s, NULL), 0);
        assert_string_equal(s.path, "/var/log/x.log");
        assert_null(s.backupname);
        logfollow_source_done(&s);
}

static void test_source_of_a_broken_ini_fails(void **state) {
        LogFollowSource s;
        (void) state;

        assert_int_equal(logfollow_source_load(at("missing.ini"), NULL, &s, NULL), -ENOENT);
        append("i.ini", "[uwsgi]\nlogto = %(nosuchkey)/x\n");
        assert_int_equal(logfollow_source_load(at("i.ini"), NULL, &s, NULL), -EINVAL);
        assert_null(s.path);
}

/* ---- the command, with the emperor and the store faked ---- */

/* Runs ctl_cmd_logs(app) with fd 1 on a memfd; returns the status, *ret_out what it wrote. */
static int run_logs(const char *app, char **ret_out) {
        int out = out_new(), saved = dup(STDOUT_FILENO), r;
        CtlInvocation inv = { .app = app };

        assert_true(saved >= 0);
        assert_int_equal(dup2(out, STDOUT_FILENO), STDOUT_FILENO);
        r = ctl_cmd_logs(&inv);
        assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
        close(saved);
        *ret_out = out_take(out);
        close(out);
        return r;
}

/* A stats store in state_dir, written by the emperor's own writer, that knows name's ini. */
static void make_store(const char *state_dir, const char *name, const char *ini) {
        StoreOptions o = { .state_dir = state_dir };
        Store *s;
        assert_int_equal(store_new(&o, &s), 0);
        assert_int_equal(store_event(s, name, ini, "spawn", "pid 1"), 0);
        store_free(s);
}

static void test_cmd_reads_the_log_the_emperor_names(void **state) {
        char reply[1024], ini[300], *out;
        (void) state;

        assert_int_equal(mkdir(at("logs"), 0755), 0);
        append("logs/web.log", "1\n2\n3\n4\n");
        snprintf(ini, sizeof(ini), "[uwsgi]\nlogto = %s/logs/%%n.log\n", dir);
        append("web.ini", ini);
        snprintf(reply, sizeof(reply), "{\"ok\":true,\"vassals\":[{\"name\":\"web\","
                 "\"pid\":null,\"ini\":\"%s\"}]}", at("web.ini"));
        fake_reply = reply;
        ctl_args.lines = "2";
        assert_int_equal(run_logs("web", &out), CTL_EXIT_OK);
        assert_string_equal(out, "3\n4\n");
        assert_true(fake_quiet_seen);
        assert_false(ctl_quiet_not_running); /* put back after the request */
        free(out);

        ctl_args.lines = NULL; /* 10 by default */
        assert_int_equal(run_logs("web", &out), CTL_EXIT_OK);
        assert_string_equal(out, "1\n2\n3\n4\n");
        free(out);
}

/* A relative logto, no chdir: only the running vassal knows the directory, and says it. */
static void test_cmd_reads_the_log_the_vassal_reports(void **state) {
        char reply[1024], *out;
        (void) state;

        assert_int_equal(mkdir(at("run"), 0755), 0);
        append("run/app.log", "x\ny\n");
        append("app.ini", "[uwsgi]\nlogto = app.log\n");
        snprintf(reply, sizeof(reply), "{\"ok\":true,\"vassals\":[{\"name\":\"app\","
                 "\"pid\":42,\"ini\":\"%s\",\"log\":\"%s\"}]}", at("app.ini"), at("run/app.log"));
        fake_reply = reply;
        ctl_args.lines = "1";
        assert_int_equal(run_logs("app", &out), CTL_EXIT_OK);
        assert_string_equal(out, "y\n");
        free(out);

        /* Not running (or not reported yet): no guess from our own directory. */
        snprintf(reply, sizeof(reply), "{\"ok\":true,\"vassals\":[{\"name\":\"app\","
                 "\"pid\":null,\"ini\":\"%s\"}]}", at("app.ini"));
        assert_int_equal(run_logs("app", &out), CTL_EXIT_FAILED);
        assert_string_equal(out, "");
        assert_non_null(strstr(last_error, "vassal 'app' is not running, and its log 'app.log' "
                                           "is relative"));
        free(out);
        snprintf(reply, sizeof(reply), "{\"ok\":true,\"vassals\":[{\"name\":\"app\","
                 "\"pid\":42,\"ini\":\"%s\"}]}", at("app.ini"));
        assert_int_equal(run_logs("app", &out), CTL_EXIT_FAILED);
        assert_non_null(strstr(last_error, "has not reported where it logs yet"));
        free(out);

        /* A vassal that reports stderr: says so, even though the ini names a file. */
        snprintf(reply, sizeof(reply), "{\"ok\":true,\"vassals\":[{\"name\":\"app\","
                 "\"pid\":42,\"ini\":\"%s\",\"log\":\"\"}]}", at("app.ini"));
        assert_int_equal(run_logs("app", &out), CTL_EXIT_FAILED);
        assert_non_null(strstr(last_error, "has no logto"));
        free(out);
}

static void test_cmd_falls_back_to_the_store(void **state) {
        char ini[300], *out;
        (void) state;

        assert_int_equal(mkdir(at("logs"), 0755), 0);
        append("logs/web.log", "a\nb\n");
        snprintf(ini, sizeof(ini), "[uwsgi]\nlogto = %s/logs/$(EMPEROR_VASSAL).log\n", dir);
        append("web.ini", ini);
        make_store(dir, "web", at("web.ini"));
        fake_status = CTL_EXIT_NOT_RUNNING;
        fake_db = at("stats.db");
        ctl_args.lines = "1";
        assert_int_equal(run_logs("web", &out), CTL_EXIT_OK);
        assert_string_equal(out, "b\n");
        assert_string_equal(last_error, "");
        free(out);

        assert_int_equal(run_logs("nope", &out), CTL_EXIT_NO_SUCH_VASSAL);
        assert_string_equal(out, "");
        assert_non_null(strstr(last_error, "no vassal named 'nope'"));
        free(out);

        fake_db = at("no-such.db");
        assert_int_equal(run_logs("web", &out), CTL_EXIT_NOT_RUNNING);
        assert_non_null(strstr(last_error, "the emperor is not running"));
        free(out);
}

static void test_cmd_errors(void **state) {
        char reply[1024], *out;
        (void) state;

        append("quiet.ini", "[uwsgi]\nhttp-socket = :8000\n");
        snprintf(reply, sizeof(reply), "{\"ok\":true,\"vassals\":[{\"name\":\"quiet\","
                 "\"ini\":\"%s\"}]}", at("quiet.ini"));
        fake_reply = reply;
        assert_int_equal(run_logs("quiet", &out), CTL_EXIT_FAILED);
        assert_string_equal(last_error, "vassal 'quiet' has no logto: it logs to the emperor's "
                                        "stderr (journalctl -u emperor)");
        free(out);

        append("gone.ini", "[uwsgi]\nlogto = /nonexistent/dir/gone.log\n");
        snprintf(reply, sizeof(reply), "{\"ok\":true,\"vassals\":[{\"name\":\"gone\","
                 "\"ini\":\"%s\"}]}", at("gone.ini"));
        assert_int_equal(run_logs("gone", &out), CTL_EXIT_FAILED);
        assert_non_null(strstr(last_error, "which does not exist"));
        free(out);

        fake_reply = "{\"ok\":true,\"vassals\":[]}";
        assert_int_equal(run_logs("quiet", &out), CTL_EXIT_FAILED);
        assert_non_null(strstr(last_error, "malformed reply"));
        free(out);

        fake_status = CTL_EXIT_NO_SUCH_VASSAL;
        assert_int_equal(run_logs("ghost", &out), CTL_EXIT_NO_SUCH_VASSAL);
        free(out);

        const char *bad[] = { "-1", "x", "", "1.5" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ctl_args.lines = bad[i];
                assert_int_equal(run_logs("quiet", &out), CTL_EXIT_USAGE);
                assert_non_null(strstr(last_error, "-n"));
                free(out);
        }
        ctl_args.lines = NULL;
        ctl_args.json = true;
        assert_int_equal(run_logs("quiet", &out), CTL_EXIT_USAGE);
        assert_non_null(strstr(last_error, "--json"));
        free(out);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_count_is_digits_only),
                T(test_tail_finds_where_the_last_lines_start),
                T(test_tail_counts_a_last_line_without_its_newline),
                T(test_tail_of_empty_lines_and_empty_files),
                T(test_tail_crosses_block_boundaries),
                T(test_tail_of_a_line_longer_than_a_block),
                T(test_tail_reads_only_the_end_of_a_huge_file),
                T(test_backup_names_are_parsed_and_ordered),
                T(test_open_prints_the_last_lines_then_follows_from_there),
                T(test_open_with_zero_lines_prints_nothing),
                T(test_open_takes_missing_lines_from_the_newest_backup),
                T(test_rotation_drains_the_old_file_before_the_new_one),
                T(test_several_rotations_between_steps_lose_nothing),
                T(test_rotation_to_a_fixed_backupname),
                T(test_truncated_file_is_read_again_from_its_start),
                T(test_a_file_that_appears_later_is_read_from_its_start),
                T(test_a_closed_output_is_epipe),
                T(test_a_directory_is_not_a_log),
                T(test_source_resolves_the_ini_as_the_vassal_does),
                T(test_source_without_a_log_file_has_no_path),
                T(test_source_from_the_ini_needs_an_absolute_directory),
                T(test_source_takes_the_reported_path),
                T(test_cmd_reads_the_log_the_vassal_reports),
                T(test_source_of_a_broken_ini_fails),
                T(test_cmd_reads_the_log_the_emperor_names),
                T(test_cmd_falls_back_to_the_store),
                T(test_cmd_errors),
        };
#undef T
        return cmocka_run_group_tests_name("ctl-logs", tests, NULL, NULL);
}
