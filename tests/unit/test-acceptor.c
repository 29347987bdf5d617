/* SPDX-License-Identifier: MIT */
/* lib/acceptor.c: a listener that pauses on a full descriptor table instead of spinning, and
 * stops accepting at its client bound until one leaves. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "macro.h"

typedef struct Fixture {
        sd_event *e;
        int lfd;
        struct sockaddr_in sa;
        int taken[64];
        unsigned n_taken;
        unsigned handler_calls;
        bool refuse;
} Fixture;

static int on_accept(Acceptor *a, int fd, void *userdata) {
        Fixture *f = userdata;
        (void) a;
        f->handler_calls++;
        if (f->refuse)
                return -EBUSY;
        f->taken[f->n_taken++] = fd;
        return 0;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        socklen_t len = sizeof(f->sa);
        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->e), 0);
        f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        f->sa = (struct sockaddr_in) { .sin_family = AF_INET,
                                       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        assert_int_equal(bind(f->lfd, (struct sockaddr *) &f->sa, sizeof(f->sa)), 0);
        assert_int_equal(listen(f->lfd, 128), 0);
        assert_int_equal(getsockname(f->lfd, (struct sockaddr *) &f->sa, &len), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        for (unsigned k = 0; k < f->n_taken; k++)
                safe_close(f->taken[k]);
        safe_close(f->lfd);
        sd_event_unref(f->e);
        free(f);
        return 0;
}

static int dial(Fixture *f) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &f->sa, sizeof(f->sa)), 0);
        return fd;
}

/* Runs the loop until it has nothing to do for 50 ms; returns the iterations it made. */
static unsigned spin(Fixture *f) {
        unsigned n = 0;
        while (sd_event_run(f->e, 50000) > 0 && n < 100000)
                n++;
        return n;
}

static void test_the_client_bound(void **state) {
        Fixture *f = *state;
        Acceptor *a;
        int c[3];
        assert_int_equal(acceptor_new(f->e, f->lfd, &(AcceptorOptions) { .max_clients = 2 },
                                      on_accept, f, &a), 0);
        for (int k = 0; k < 3; k++)
                c[k] = dial(f);
        spin(f);
        assert_int_equal(f->n_taken, 2);
        assert_int_equal(acceptor_clients(a), 2);
        /* One leaves: the third, waiting in the backlog, is taken. */
        safe_close(f->taken[--f->n_taken]);
        acceptor_client_gone(a);
        spin(f);
        assert_int_equal(f->n_taken, 2);
        assert_int_equal(f->handler_calls, 3);
        /* A connection the owner refuses is closed and not counted. */
        f->refuse = true;
        safe_close(f->taken[--f->n_taken]);
        acceptor_client_gone(a);
        int d = dial(f);
        spin(f);
        assert_int_equal(acceptor_clients(a), 1);
        for (int k = 0; k < 3; k++)
                safe_close(c[k]);
        safe_close(d);
        acceptor_free(a);
}

/* With the descriptor table full, the listener pauses rather than waking the loop again and
 * again; once descriptors are free it takes the rest. */
static void test_a_full_descriptor_table_pauses(void **state) {
        Fixture *f = *state;
        struct rlimit saved, tight;
        Acceptor *a;
        int c[8], probe;

        assert_int_equal(acceptor_new(f->e, f->lfd, &(AcceptorOptions) { .pause_usec = 200000 },
                                      on_accept, f, &a), 0);
        for (int k = 0; k < 8; k++)
                c[k] = dial(f);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        probe = dup(0); /* the lowest free descriptor: room for two more */
        safe_close(probe);
        tight = saved;
        tight.rlim_cur = (rlim_t) probe + 2;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
        /* A spinning listener would run the loop thousands of times in these 50 ms. */
        unsigned iterations = spin(f);
        assert_true(acceptor_paused(a));
        assert_int_equal(f->n_taken, 2);
        assert_true(iterations < 10);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        for (int k = 0; k < 40 && f->n_taken < 8; k++)
                (void) sd_event_run(f->e, 50000);
        assert_int_equal(f->n_taken, 8);
        assert_false(acceptor_paused(a));
        for (int k = 0; k < 8; k++)
                safe_close(c[k]);
        acceptor_free(a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_the_client_bound, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_full_descriptor_table_pauses, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
