/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"

#define SEC 1000000LL
#define MB (1024 * 1024ULL)

/* What the guard asked of the "master". */
typedef struct Fake {
        int signals[16][2]; /* id, sig */
        size_t n_signals;
        int recycled[16];
        size_t n_recycled;
        uint64_t vsz, rss;
} Fake;

static void fake_signal(void *userdata, int id, int sig) {
        Fake *f = userdata;
        assert_true(f->n_signals < 16);
        f->signals[f->n_signals][0] = id;
        f->signals[f->n_signals][1] = sig;
        f->n_signals++;
}

static void fake_recycle(void *userdata, int id) {
        Fake *f = userdata;
        assert_true(f->n_recycled < 16);
        f->recycled[f->n_recycled++] = id;
}

static int fake_memory(void *userdata, pid_t pid, uint64_t *ret_vsz, uint64_t *ret_rss) {
        Fake *f = userdata;
        (void) pid;
        *ret_vsz = f->vsz;
        *ret_rss = f->rss;
        return 0;
}

typedef struct Fixture {
        VassalConfig cfg;
        Scoreboard *sb;
        ListenerSet listeners;
        Fake fake;
        sd_event *event;
        Guard *guard;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->cfg = (VassalConfig) {}; /* every guard off: each test sets what it checks */
        assert_int_equal(scoreboard_new(2, 2, &f->sb), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        f->fake.vsz = 100 * MB;
        f->fake.rss = 10 * MB;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        guard_free(f->guard);
        scoreboard_free(f->sb);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

/* The guard as the master makes it, but without its timer: the tests call guard_check. */
static Guard *guard(Fixture *f, bool with_event) {
        GuardParams p = {
                .event = with_event ? f->event : NULL,
                .cfg = &f->cfg,
                .scoreboard = f->sb,
                .listeners = &f->listeners,
                .workers = true,
                .ops = { fake_signal, fake_recycle, fake_memory, &f->fake },
        };
        /* With the loop, its own once-a-second round may run too: harmless, it sees what ours
         * saw. */
        assert_int_equal(guard_new(&p, &f->guard), 0);
        return f->guard;
}

static int64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * SEC + ts.tv_nsec / 1000;
}

static void test_max_requests_with_delta(void **state) {
        Fixture *f = *state;
        assert_int_equal(guard_max_requests(&f->cfg, 1), 0);
        f->cfg.max_requests = 100;
        assert_int_equal(guard_max_requests(&f->cfg, 1), 100);
        assert_int_equal(guard_max_requests(&f->cfg, 3), 100);
        f->cfg.max_requests_delta = 10; /* uWSGI: max-requests + (id - 1) * delta */
        assert_int_equal(guard_max_requests(&f->cfg, 1), 100);
        assert_int_equal(guard_max_requests(&f->cfg, 2), 110);
        assert_int_equal(guard_max_requests(&f->cfg, 3), 120);
}

static void test_statm(void **state) {
        uint64_t vsz, rss, page = (uint64_t) sysconf(_SC_PAGESIZE);
        char buf[256];
        (void) state;

        assert_int_equal(guard_parse_statm("100 25 3 1 0 40 0\n", &vsz, &rss), 0);
        assert_int_equal(vsz, 100 * page);
        assert_int_equal(rss, 25 * page);
        assert_int_equal(guard_parse_statm("garbage", &vsz, &rss), -EINVAL);

        /* A kept fd reads afresh every time (pread at 0). */
        int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(guard_read_statm(fd, &vsz, &rss), 0);
        assert_true(rss > 0 && vsz >= rss);
        assert_int_equal(guard_read_statm(fd, &vsz, &rss), 0);
        assert_true(rss > 0);
        guard_memory_report(fd, buf, sizeof(buf));
        assert_non_null(strstr(buf, "{address space usage: "));
        assert_non_null(strstr(buf, " bytes/"));
        assert_non_null(strstr(buf, "MB} {rss usage: "));
        close(fd);
        guard_memory_report(-1, buf, sizeof(buf));
        assert_string_equal(buf, "");
}

static void test_harakiri_kills_the_stuck_worker_once(void **state) {
        Fixture *f = *state;
        int64_t now = now_usec();

        f->cfg.harakiri = 2;
        guard(f, false);
        scoreboard_slot_spawned(scoreboard_slot(f->sb, 1), 101, 0);
        scoreboard_slot_spawned(scoreboard_slot(f->sb, 2), 102, 0);
        /* Worker 1's second thread is stuck; worker 2's request is young. */
        scoreboard_core_begin(scoreboard_core(f->sb, 1, 1), now - 3 * SEC, "GET", 3, "/stuck", 6);
        scoreboard_core_begin(scoreboard_core(f->sb, 2, 0), now - SEC / 2, "GET", 3, "/ok", 3);

        guard_check(f->guard, now);
        assert_int_equal(f->fake.n_signals, 1);
        assert_int_equal(f->fake.signals[0][0], 1);
        assert_int_equal(f->fake.signals[0][1], SIGKILL);
        assert_int_equal(atomic_load(&scoreboard_slot(f->sb, 1)->harakiri_count), 1);
        assert_int_equal(atomic_load(&scoreboard_slot(f->sb, 2)->harakiri_count), 0);

        /* Until it is gone, the same process is not killed twice. */
        guard_check(f->guard, now + SEC / 2);
        assert_int_equal(f->fake.n_signals, 1);

        /* Gone and replaced: its request went with it, the new process is left alone. */
        scoreboard_slot_exited(scoreboard_slot(f->sb, 1));
        scoreboard_slot_spawned(scoreboard_slot(f->sb, 1), 201, 1);
        guard_check(f->guard, now + SEC);
        assert_int_equal(f->fake.n_signals, 1);

        /* Worker 2's request, once old enough. */
        guard_check(f->guard, now + 3 * SEC / 2);
        assert_int_equal(f->fake.n_signals, 2);
        assert_int_equal(f->fake.signals[1][0], 2);
        assert_int_equal(atomic_load(&scoreboard_slot(f->sb, 1)->harakiri_count), 1);
}

static void test_harakiri_off_by_default(void **state) {
        Fixture *f = *state;
        int64_t now = now_usec();

        guard(f, false);
        scoreboard_slot_spawned(scoreboard_slot(f->sb, 1), 101, 0);
        scoreboard_core_begin(scoreboard_core(f->sb, 1, 0), now - 3600 * SEC, "GET", 3, "/", 1);
        guard_check(f->guard, now);
        assert_int_equal(f->fake.n_signals, 0);
}

/* Verbose: SIGUSR2 first, SIGKILL a bounded moment later, from the loop's timer. */
static void test_harakiri_verbose_reports_then_kills(void **state) {
        Fixture *f = *state;
        int64_t now = now_usec();

        f->cfg.harakiri = 1;
        f->cfg.harakiri_verbose = true;
        guard(f, true);
        scoreboard_slot_spawned(scoreboard_slot(f->sb, 2), 102, 0);
        scoreboard_core_begin(scoreboard_core(f->sb, 2, 1), now - 2 * SEC, "POST", 4, "/x", 2);
        guard_check(f->guard, now);
        assert_int_equal(f->fake.n_signals, 1);
        assert_int_equal(f->fake.signals[0][0], 2);
        assert_int_equal(f->fake.signals[0][1], SIGUSR2);

        int64_t deadline = now_usec() + 3 * SEC;
        while (f->fake.n_signals < 2 && now_usec() < deadline)
                assert_true(sd_event_run(f->event, 100000) >= 0);
        assert_int_equal(f->fake.n_signals, 2);
        assert_int_equal(f->fake.signals[1][0], 2);
        assert_int_equal(f->fake.signals[1][1], SIGKILL);
        int64_t waited = now_usec() - now;
        assert_true(waited >= (int64_t) HARAKIRI_VERBOSE_GRACE_USEC - 1000);
        assert_true(waited < 2 * SEC);
}

/* A worker replaced meanwhile is not killed by the previous one's timer. */
static void test_harakiri_verbose_spares_a_replacement(void **state) {
        Fixture *f = *state;
        int64_t now = now_usec();

        f->cfg.harakiri = 1;
        f->cfg.harakiri_verbose = true;
        guard(f, true);
        scoreboard_slot_spawned(scoreboard_slot(f->sb, 1), 101, 0);
        scoreboard_core_begin(scoreboard_core(f->sb, 1, 0), now - 2 * SEC, "GET", 3, "/", 1);
        guard_check(f->guard, now);
        assert_int_equal(f->fake.n_signals, 1);
        scoreboard_slot_exited(scoreboard_slot(f->sb, 1));
        scoreboard_slot_spawned(scoreboard_slot(f->sb, 1), 201, 1);

        int64_t until = now_usec() + HARAKIRI_VERBOSE_GRACE_USEC + 300000;
        while (now_usec() < until)
                assert_true(sd_event_run(f->event, 50000) >= 0);
        assert_int_equal(f->fake.n_signals, 1);
}

static void test_reload_on_rss_and_as(void **state) {
        Fixture *f = *state;
        ScoreboardSlot *s1 = scoreboard_slot(f->sb, 1);
        int64_t now = now_usec();

        f->cfg.reload_on_rss = 50;
        guard(f, false);
        scoreboard_slot_spawned(s1, 101, 0);
        guard_check(f->guard, now);
        assert_int_equal(atomic_load(&s1->rss), 10 * MB);
        assert_int_equal(atomic_load(&s1->vsz), 100 * MB);
        assert_int_equal(f->fake.n_recycled, 0);

        /* Past the limit before serving anything: an app that starts big is not replaced in a
         * loop. */
        f->fake.rss = 60 * MB;
        guard_check(f->guard, now);
        assert_int_equal(f->fake.n_recycled, 0);
        assert_int_equal(atomic_load(&s1->rss), 60 * MB);

        scoreboard_request_begin(s1, now);
        scoreboard_request_end(s1, 1, 1, false, 200);
        guard_check(f->guard, now);
        assert_int_equal(f->fake.n_recycled, 1);
        assert_int_equal(f->fake.recycled[0], 1);
        /* Asked once: it is finishing its requests. */
        guard_check(f->guard, now + SEC);
        assert_int_equal(f->fake.n_recycled, 1);

        /* Its replacement starts afresh; reload-on-as judges the address space. */
        scoreboard_slot_exited(s1);
        scoreboard_slot_spawned(s1, 201, 1);
        f->fake.rss = 10 * MB;
        f->cfg.reload_on_as = 200;
        scoreboard_request_begin(s1, now);
        scoreboard_request_end(s1, 1, 1, false, 200);
        guard_check(f->guard, now + 2 * SEC);
        assert_int_equal(f->fake.n_recycled, 1);
        f->fake.vsz = 200 * MB;
        guard_check(f->guard, now + 3 * SEC);
        assert_int_equal(f->fake.n_recycled, 2);
        assert_int_equal(f->fake.n_signals, 0);
}

/* A TCP listener with backlog 1 and three clients: the queue is full (the kernel holds one more
 * than the backlog), which counts in listen_queue_errors. */
static void test_listen_queue_full(void **state) {
        Fixture *f = *state;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int clients[3];
        uint64_t queue, max;

        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        Listener l = { .fd = fd, .tcp = true, .address = (char *) "127.0.0.1:test" };
        f->listeners = (ListenerSet) { .items = &l, .n = 1 };
        guard(f, false);

        assert_true(guard_listener_queue(fd, &queue, &max));
        assert_int_equal(queue, 0);
        assert_int_equal(max, 1);
        guard_check(f->guard, now_usec());
        assert_int_equal(guard_listen_queue_errors(f->guard), 0);

        for (int i = 0; i < 3; i++) {
                clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                assert_true(clients[i] >= 0);
                (void) connect(clients[i], (struct sockaddr *) &sa, sizeof(sa));
        }
        for (int i = 0; i < 100 && (guard_listener_queue(fd, &queue, &max), queue < 1); i++)
                usleep(10000);
        assert_true(queue >= 1);
        guard_check(f->guard, now_usec());
        assert_int_equal(guard_listen_queue_errors(f->guard), 1);
        guard_check(f->guard, now_usec());
        assert_int_equal(guard_listen_queue_errors(f->guard), 2);

        /* Not a TCP listener: nothing to say. */
        assert_false(guard_listener_queue(clients[0], &queue, &max));
        for (int i = 0; i < 3; i++)
                close(clients[i]);
        close(fd);
        f->listeners = (ListenerSet) {};
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_max_requests_with_delta, setup, teardown),
                cmocka_unit_test(test_statm),
                cmocka_unit_test_setup_teardown(test_harakiri_kills_the_stuck_worker_once, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_harakiri_off_by_default, setup, teardown),
                cmocka_unit_test_setup_teardown(test_harakiri_verbose_reports_then_kills, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_harakiri_verbose_spares_a_replacement, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_reload_on_rss_and_as, setup, teardown),
                cmocka_unit_test_setup_teardown(test_listen_queue_full, setup, teardown),
        };
        return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
