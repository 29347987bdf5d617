/* SPDX-License-Identifier: MIT */
/* lib/child: the exec errno comes back synchronously, the fds land at 3.. in order with
 * LISTEN_* right, a child deaf to SIGTERM is killed after the mercy, and a reaped child is
 * never signalled again, even when its pid belongs to another process by then. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "macro.h"

#define MSEC 1000ULL

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static ChildSpec spec_exec(const char *path, char *const *argv) {
        return (ChildSpec) {
                .path = path,
                .argv = argv,
                .stdin_fd = CHILD_FD_INHERIT,
                .stdout_fd = CHILD_FD_INHERIT,
                .stderr_fd = CHILD_FD_INHERIT,
        };
}

static void test_missing_program_is_enoent(void **state) {
        char *argv[] = { (char *) "nope", NULL };
        ChildSpec s = spec_exec("/nonexistent/nope", argv);
        sd_event *e = NULL;
        Child *c = NULL;
        pid_t pid = 0;
        int setup_errno = 0, status = 0;
        (void) state;

        assert_int_equal(sd_event_new(&e), 0);
        /* From the spawn call itself, before any event: the errno pipe. */
        assert_int_equal(child_spawn(e, &s, &c), -ENOENT);
        assert_null(c);

        /* The low level leaves the failed child to its caller: it exits 127. */
        assert_int_equal(child_fork(&s, &pid, NULL, &setup_errno), 0);
        assert_int_equal(setup_errno, ENOENT);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 127);
        sd_event_unref(e);
}

/* Moves fd to at least 30, close-on-exec, out of the way of 3..6. */
static int high(int fd) {
        int h = fcntl(fd, F_DUPFD_CLOEXEC, 30);
        assert_true(h >= 30);
        close(fd);
        return h;
}

static void test_fds_placed_in_order_with_listen_env(void **state) {
        int rd[3], wr[3];
        (void) state;

        for (int i = 0; i < 3; i++) {
                int p[2];
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                rd[i] = high(p[0]);
                wr[i] = high(p[1]);
        }
        /* The write ends sit where the others must go: 0 at 5, 1 at 3, 2 at 4. Placing them
         * one by one, naively, would overwrite a source before it is moved. */
        int at[3] = { 5, 3, 4 };
        for (int i = 0; i < 3; i++) {
                assert_int_equal(dup3(wr[i], at[i], O_CLOEXEC), at[i]);
                close(wr[i]);
        }
        /* An fd we do not pass, without close-on-exec: it must not reach the program. */
        int null = open("/dev/null", O_RDONLY);
        assert_int_equal(dup2(null, 6), 6);
        if (null != 6)
                close(null);

        const char *script =
                "[ \"$LISTEN_FDS\" = 3 ] || exit 10\n"
                "[ \"$LISTEN_PID\" = $$ ] || exit 11\n"
                "[ \"$LISTEN_FDNAMES\" = a:b:c ] || exit 12\n"
                "[ \"$KEEP\" = 1 ] && [ \"$NEW\" = 2 ] && [ -z \"${GONE+x}\" ] || exit 13\n"
                "if (: >&6) 2>/dev/null; then exit 14; fi\n"
                "printf 0 >&3 && printf 1 >&4 && printf 2 >&5 || exit 15\n";
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) script, NULL };
        char *env[] = { (char *) "LISTEN_PID=1", (char *) "LISTEN_FDNAMES=zzz",
                        (char *) "LISTEN_FDS=9", (char *) "KEEP=1", (char *) "GONE=1",
                        (char *) "PATH=/usr/bin:/bin", NULL };
        char *add[] = { (char *) "GONE", (char *) "NEW=x", (char *) "NEW=2", NULL };
        char *names[] = { (char *) "a", (char *) "b", (char *) "c" };
        ChildSpec s = spec_exec("/bin/sh", argv);
        s.env = env;
        s.env_add = add;
        s.fds = at;
        s.n_fds = 3;
        s.fd_names = names;
        s.flags = CHILD_RESET_SIGNALS | CHILD_NEW_SESSION;

        pid_t pid;
        int setup_errno = -1, status;
        assert_int_equal(child_fork(&s, &pid, NULL, &setup_errno), 0);
        assert_int_equal(setup_errno, 0);
        for (int i = 0; i < 3; i++)
                close(at[i]);
        close(6);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        for (int i = 0; i < 3; i++) {
                char b[4] = "";
                assert_int_equal(read(rd[i], b, sizeof(b)), 1);
                assert_int_equal(b[0], '0' + i);
                close(rd[i]);
        }
}

typedef struct Seen {
        int ready_fd;
        bool exited;
        bool killed_hook;
        siginfo_t si;
        uint64_t at;
        int signal_in_exit;
} Seen;

_Noreturn static int deaf_to_sigterm(void *userdata) {
        Seen *seen = userdata;
        sigset_t none;
        (void) signal(SIGTERM, SIG_IGN);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) !write(seen->ready_fd, "r", 1);
        for (;;)
                pause();
}

static void on_exit_seen(Child *c, const siginfo_t *si, void *userdata) {
        Seen *seen = userdata;
        seen->exited = true;
        seen->si = *si;
        seen->at = now_usec();
        /* Exited, not yet reaped by sd-event: already no target. */
        seen->signal_in_exit = child_signal(c, 0);
}

static void on_kill_seen(Child *c, void *userdata) {
        Seen *seen = userdata;
        (void) c;
        seen->killed_hook = true;
}

static int on_give_up(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) usec;
        (void) userdata;
        return sd_event_exit(sd_event_source_get_event(s), -ETIMEDOUT);
}

/* Runs e until seen->exited, at most 5 s. */
static void run_until_exit(sd_event *e, Seen *seen) {
        sd_event_source *give_up = NULL;
        assert_int_equal(sd_event_add_time_relative(e, &give_up, CLOCK_MONOTONIC, 5000 * MSEC, 0,
                                                    on_give_up, NULL),
                         0);
        while (!seen->exited) {
                int r = sd_event_run(e, UINT64_MAX);
                assert_true(r >= 0);
                int code = 0;
                if (sd_event_get_exit_code(e, &code) >= 0 && code == -ETIMEDOUT)
                        fail_msg("the child did not exit within 5 s");
        }
        sd_event_source_disable_unref(give_up);
}

static void test_sigterm_ignored_is_killed_after_mercy(void **state) {
        sd_event *e = NULL;
        Child *c = NULL;
        Seen seen = {};
        int p[2];
        (void) state;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        seen.ready_fd = p[1];
        ChildSpec s = {
                .run = deaf_to_sigterm,
                .run_data = &seen,
                .pdeath_signal = SIGKILL, /* should the test fail, it does not outlive us */
                .stdin_fd = CHILD_FD_INHERIT,
                .stdout_fd = CHILD_FD_INHERIT,
                .stderr_fd = CHILD_FD_INHERIT,
                .on_exit = on_exit_seen,
                .on_kill = on_kill_seen,
                .userdata = &seen,
        };
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(child_spawn(e, &s, &c), 0);
        char b;
        assert_int_equal(read(p[0], &b, 1), 1); /* SIGTERM is ignored from here on */

        uint64_t start = now_usec();
        assert_int_equal(child_stop(c, SIGTERM, 300 * MSEC), 0);
        assert_true(child_stopping(c));
        run_until_exit(e, &seen);
        assert_int_equal(seen.si.si_code, CLD_KILLED);
        assert_int_equal(seen.si.si_status, SIGKILL);
        assert_true(seen.killed_hook);
        assert_int_equal(seen.signal_in_exit, -ESRCH);
        assert_true(seen.at - start >= 300 * MSEC);
        assert_false(child_running(c));
        child_free(c);
        sd_event_unref(e);
        close(p[0]);
        close(p[1]);
}

static int exit_at_once(void *userdata) {
        (void) userdata;
        return 3;
}

_Noreturn static int wait_forever(void *userdata) {
        (void) userdata;
        for (;;)
                pause();
}

/* In a pid namespace of our own: child A exits and is reaped, then the next pid is set to
 * A's, so bystander B gets A's pid. child_signal(A) must not reach B. Returns 0 when all held,
 * 77 when the kernel would not give B the pid, other values for failures. */
static int recycled_pid_scenario(void) {
        sigset_t chld;
        sd_event *e = NULL;
        Child *a = NULL;
        Seen seen = {};

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &chld, NULL);
        if (sd_event_new(&e) < 0)
                return 2;
        ChildSpec s = {
                .run = exit_at_once,
                .stdin_fd = CHILD_FD_INHERIT,
                .stdout_fd = CHILD_FD_INHERIT,
                .stderr_fd = CHILD_FD_INHERIT,
                .on_exit = on_exit_seen,
                .userdata = &seen,
        };
        if (child_spawn(e, &s, &a) < 0)
                return 3;
        while (!seen.exited)
                if (sd_event_run(e, 5000 * MSEC) <= 0)
                        return 4;
        pid_t pid = child_pid(a);
        if (seen.si.si_code != CLD_EXITED || seen.si.si_status != 3 || seen.signal_in_exit != -ESRCH)
                return 5;
        /* sd-event reaped it after the callback. */
        if (waitpid(pid, NULL, WNOHANG) != -1 || errno != ECHILD)
                return 6;

        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (!f || fprintf(f, "%d", (int) pid - 1) < 0 || fclose(f) != 0)
                return 77;
        ChildSpec bs = s;
        bs.run = wait_forever;
        bs.on_exit = NULL;
        Child *b = NULL;
        if (child_spawn(e, &bs, &b) < 0)
                return 7;
        if (child_pid(b) != pid)
                return 77;

        if (child_signal(a, SIGKILL) != -ESRCH)
                return 8;
        if (child_stop(a, SIGKILL, 0) != -ESRCH)
                return 9;
        if (child_signal_source(NULL, SIGKILL) != -ESRCH)
                return 12;
        siginfo_t si = {};
        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0)
                return 10; /* B died: the signal went to the recycled pid */
        child_free(b); /* kills and reaps B */
        if (waitpid(pid, NULL, WNOHANG) != -1 || errno != ECHILD)
                return 11;
        child_free(a);
        sd_event_unref(e);
        return 0;
}

static void test_signal_after_reap_reaches_nothing(void **state) {
        (void) state;
        pid_t helper = fork();
        assert_true(helper >= 0);
        if (helper == 0) {
                if (unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS) < 0)
                        _exit(77);
                pid_t init = fork(); /* pid 1 of the new namespace */
                if (init < 0)
                        _exit(1);
                if (init == 0) {
                        /* Our own /proc: pidfds are resolved to pids through it (fdinfo). */
                        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                            mount("proc", "/proc", "proc", 0, NULL) < 0)
                                _exit(77);
                        _exit(recycled_pid_scenario());
                }
                int status;
                if (waitpid(init, &status, 0) != init || !WIFEXITED(status))
                        _exit(1);
                _exit(WEXITSTATUS(status));
        }
        int status;
        assert_int_equal(waitpid(helper, &status, 0), helper);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                skip(); /* no pid namespace here: the recycling cannot be staged */
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_format_ulong(void **state) {
        char b[16];
        (void) state;
        assert_string_equal(child_format_ulong(b, sizeof(b), "LISTEN_PID=", 4194304), "LISTEN_PID=4194");
        assert_string_equal(child_format_ulong(b, sizeof(b), "P=", 0), "P=0");
        assert_string_equal(child_format_ulong(b, sizeof(b), NULL, 1234567890), "1234567890");
}

int main(void) {
        sigset_t chld;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_missing_program_is_enoent),
                cmocka_unit_test(test_fds_placed_in_order_with_listen_env),
                cmocka_unit_test(test_sigterm_ignored_is_killed_after_mercy),
                cmocka_unit_test(test_signal_after_reap_reaches_nothing),
                cmocka_unit_test(test_format_ulong),
        };
        /* sd-event watches children only with SIGCHLD blocked (PLATFORM.md). */
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &chld, NULL);
        return cmocka_run_group_tests_name("child", tests, NULL, NULL);
}
