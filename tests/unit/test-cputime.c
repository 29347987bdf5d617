/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cputime.h"

/* Spins for usec µs of this process's CPU. */
static void burn(uint64_t usec) {
        uint64_t start, now;
        assert_int_equal(cputime_process_usec(0, &start), 0);
        do
                assert_int_equal(cputime_process_usec(0, &now), 0);
        while (now - start < usec);
}

/* A child that burns usec of CPU, then exits (exit_after) or waits to be killed. */
static pid_t child_burning(uint64_t usec, bool exit_after) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                burn(usec);
                if (exit_after)
                        _exit(0);
                for (;;)
                        pause();
        }
        return pid;
}

/* Waits until pid has exited, leaving it a zombie (as sd-event does before its callback). */
static void wait_zombie(pid_t pid) {
        siginfo_t si = {};
        assert_int_equal(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
        assert_int_equal(si.si_pid, pid);
}

static void reap(pid_t pid) {
        assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_own_cpu_counts_from_new(void **state) {
        CpuTime *c = NULL;
        (void) state;

        burn(20000); /* before: not counted */
        assert_int_equal(cputime_new(&c), 0);
        uint64_t t0 = cputime_total(c);
        assert_true(t0 < 20000);
        burn(50000);
        uint64_t t1 = cputime_total(c);
        assert_true(t1 >= t0 + 50000);
        assert_true(t1 < t0 + 50000 + 1000000); /* nothing absurd */
        cputime_free(c);
}

/* A worker watched from its fork that exits: its whole life counts, read from its zombie,
 * and stays counted once it is reaped. */
static void test_exited_worker_keeps_its_cpu(void **state) {
        CpuTime *c = NULL;
        (void) state;

        assert_int_equal(cputime_new(&c), 0);
        pid_t pid = child_burning(100000, true);
        cputime_watch(c, pid, true);
        wait_zombie(pid);
        uint64_t self_before = cputime_total(c);
        cputime_unwatch(c, pid);
        reap(pid);
        uint64_t t = cputime_total(c);
        assert_true(t >= 100000);
        /* The child's 100 ms, and only a little of our own besides. */
        assert_true(t < self_before + 1000000);
        /* Its pid may be anyone's now: unwatching it again changes nothing. */
        cputime_unwatch(c, pid);
        assert_true(cputime_total(c) >= t);
        cputime_free(c);
}

/* A process that was gone (reaped) before it was unwatched keeps its last reading: nothing
 * goes back. */
static void test_reaped_before_unwatch_keeps_last_reading(void **state) {
        CpuTime *c = NULL;
        (void) state;

        assert_int_equal(cputime_new(&c), 0);
        pid_t pid = child_burning(60000, true);
        cputime_watch(c, pid, true);
        wait_zombie(pid);
        uint64_t t1 = cputime_total(c); /* read while a zombie */
        assert_true(t1 >= 60000);
        reap(pid);
        uint64_t t2 = cputime_total(c);
        assert_true(t2 >= t1);
        cputime_unwatch(c, pid);
        assert_true(cputime_total(c) >= t2);
        cputime_free(c);
}

/* A previous master's worker (after a reload) counts only from when it was watched. */
static void test_adopted_process_counts_from_now(void **state) {
        CpuTime *c = NULL;
        (void) state;

        assert_int_equal(cputime_new(&c), 0);
        pid_t pid = child_burning(150000, false);
        /* Let it burn its 150 ms before we watch it. */
        uint64_t v = 0;
        while (cputime_process_usec(pid, &v) == 0 && v < 150000)
                usleep(10000);
        uint64_t t0 = cputime_total(c);
        cputime_watch(c, pid, false);
        cputime_watch(c, pid, true); /* watched already: no reset to 0 */
        usleep(20000);
        uint64_t t1 = cputime_total(c);
        /* It sleeps now: next to nothing more. */
        assert_true(t1 - t0 < 100000);
        kill(pid, SIGKILL);
        wait_zombie(pid);
        cputime_unwatch(c, pid);
        reap(pid);
        assert_true(cputime_total(c) - t0 < 100000);
        cputime_free(c);
}

static void test_no_such_process(void **state) {
        CpuTime *c = NULL;
        uint64_t v;
        (void) state;

        pid_t pid = child_burning(0, true);
        reap(pid);
        assert_true(cputime_process_usec(pid, &v) < 0);
        assert_int_equal(cputime_new(&c), 0);
        cputime_watch(c, pid, false); /* gone: ignored */
        cputime_watch(c, 0, true);
        cputime_watch(c, -1, true);
        cputime_unwatch(c, 12345678);
        assert_true(cputime_total(c) < 1000000);
        cputime_free(c);
        assert_null(cputime_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_own_cpu_counts_from_new),
                cmocka_unit_test(test_exited_worker_keeps_its_cpu),
                cmocka_unit_test(test_reaped_before_unwatch_keeps_last_reading),
                cmocka_unit_test(test_adopted_process_counts_from_now),
                cmocka_unit_test(test_no_such_process),
        };
        return cmocka_run_group_tests_name("cputime", tests, NULL, NULL);
}
