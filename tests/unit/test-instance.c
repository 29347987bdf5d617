/* SPDX-License-Identifier: MIT */
/* The vassal state machine (emperor/instance.c) driven through the manager's ops seam with
 * fakes: no fork, no signal, no sleep. A fake child dies when the test says so, a fake timer
 * fires when the test moves the fake clock past it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "../../emperor/instance.h"
#include "../../emperor/manager.h"
#include "macro.h"

#define SEC 1000000ULL
#define READY_TIMEOUT 10
#define MAX_FAKES 256

/* The fakes behind the seam's opaque handles. */
struct ManagerChild {
        pid_t pid;
        bool check;
        bool alive;
        bool released;
        ManagerExitFn on_exit;
        void *userdata;
        int signals[8];
        unsigned n_signals;
};

struct ManagerTimer {
        uint64_t when;
        bool armed;
        ManagerTimerFn fn;
        void *userdata;
};

typedef struct World {
        char dir[64];
        char ini[128];
        Manager *m;
        Instance *i;
        uint64_t now;
        pid_t next_pid;
        ManagerChild *children[MAX_FAKES];
        size_t n_children;
        ManagerTimer *timers[MAX_FAKES];
        size_t n_timers;
        unsigned version; /* of the ini: each write changes its key */
} World;

static World *w;

static uint64_t fake_now(Manager *m) {
        (void) m;
        return w->now;
}

static int fake_spawn(Manager *m, const SpawnOptions *o, bool capture, ManagerExitFn on_exit,
                      void *userdata, pid_t *ret_pid, int *ret_exec_errno, ManagerChild **ret) {
        (void) m;
        (void) o;
        assert_true(w->n_children < MAX_FAKES);
        ManagerChild *c = calloc(1, sizeof(ManagerChild));
        assert_non_null(c);
        *c = (ManagerChild) {
                .pid = w->next_pid++,
                .check = capture,
                .alive = true,
                .on_exit = on_exit,
                .userdata = userdata,
        };
        w->children[w->n_children++] = c;
        *ret_pid = c->pid;
        *ret_exec_errno = 0;
        *ret = c;
        return 0;
}

static void fake_signal(Manager *m, ManagerChild *c, int sig) {
        (void) m;
        if (!c)
                return;
        assert_false(c->released);
        if (c->n_signals < ELEMENTSOF(c->signals))
                c->signals[c->n_signals++] = sig;
}

static void fake_kill_tree(Manager *m, pid_t pid, const char *cgroup) {
        (void) m;
        (void) pid;
        (void) cgroup;
}

static ManagerChild *fake_release(Manager *m, ManagerChild *c) {
        (void) m;
        if (c)
                c->released = true; /* kept for the test to look at; freed in teardown */
        return NULL;
}

static ManagerTimer *fake_timer_disarm(Manager *m, ManagerTimer *t) {
        (void) m;
        if (t)
                t->armed = false;
        return NULL;
}

static int fake_timer_arm(Manager *m, uint64_t usec, ManagerTimerFn fn, void *userdata,
                          ManagerTimer **ret) {
        *ret = fake_timer_disarm(m, *ret);
        assert_true(w->n_timers < MAX_FAKES);
        ManagerTimer *t = calloc(1, sizeof(ManagerTimer));
        assert_non_null(t);
        *t = (ManagerTimer) { .when = w->now + usec, .armed = true, .fn = fn, .userdata = userdata };
        w->timers[w->n_timers++] = t;
        *ret = t;
        return 0;
}

static const ManagerOps fake_ops = {
        .now = fake_now,
        .spawn = fake_spawn,
        .signal = fake_signal,
        .kill_tree = fake_kill_tree,
        .release = fake_release,
        .timer_arm = fake_timer_arm,
        .timer_disarm = fake_timer_disarm,
};

/* Moves the clock on by usec, firing the timers that come due, in order. */
static void advance(uint64_t usec) {
        uint64_t until = w->now + usec;
        for (;;) {
                ManagerTimer *next = NULL;
                for (size_t k = 0; k < w->n_timers; k++)
                        if (w->timers[k]->armed && w->timers[k]->when <= until &&
                            (!next || w->timers[k]->when < next->when))
                                next = w->timers[k];
                if (!next)
                        break;
                w->now = next->when;
                next->armed = false;
                next->fn(next->userdata);
        }
        w->now = until;
}

/* The newest live child of a kind (a check or a vassal); NULL: none. */
static ManagerChild *newest(bool check) {
        for (size_t k = w->n_children; k-- > 0;)
                if (w->children[k]->check == check && w->children[k]->alive &&
                    !w->children[k]->released)
                        return w->children[k];
        return NULL;
}

static size_t count(bool check) {
        size_t n = 0;
        for (size_t k = 0; k < w->n_children; k++)
                n += w->children[k]->check == check;
        return n;
}

static bool got_signal(const ManagerChild *c, int sig) {
        for (unsigned k = 0; k < c->n_signals; k++)
                if (c->signals[k] == sig)
                        return true;
        return false;
}

static void die(ManagerChild *c, int code, int status, const char *output) {
        assert_non_null(c);
        assert_true(c->alive);
        assert_false(c->released);
        c->alive = false;
        siginfo_t si = {};
        /* Assigned, not initialized: si_pid and si_status are members of different arms of
         * a union, and an initializer of the one would drop the other. */
        si.si_code = code;
        si.si_pid = c->pid;
        si.si_status = status;
        c->on_exit(c->userdata, &si, c->check ? output : NULL);
}

static void exits(ManagerChild *c, int status) {
        die(c, CLD_EXITED, status, "");
}

static void check_passes(void) {
        die(newest(true), CLD_EXITED, 0, "");
}

static void check_fails(const char *output) {
        die(newest(true), CLD_EXITED, 1, output);
}

static void notify(ManagerChild *c, const char *msg) {
        assert_true(instance_notify(w->i, c->pid, msg, strlen(msg)));
}

static ScanEntry entry(void) {
        return (ScanEntry) {
                .name = (char *) "app",
                .path = w->ini,
                .key = { .hash = w->version, .size = w->version },
                .uid = getuid(),
                .gid = getgid(),
        };
}

/* A new version of the ini, as the scan sees it. */
static void ini_changes(void) {
        w->version++;
        ScanEntry e = entry();
        instance_changed(w->i, &e);
}

static InstanceState state(void) {
        return instance_state(w->i);
}

static int setup(void **state_) {
        (void) state_;
        w = calloc(1, sizeof(World));
        assert_non_null(w);
        w->next_pid = 1000;
        w->now = 1000 * SEC;
        w->version = 1;
        unsetenv("NOTIFY_SOCKET");
        snprintf(w->dir, sizeof(w->dir), "/tmp/test-instance.XXXXXX");
        assert_non_null(mkdtemp(w->dir));
        snprintf(w->ini, sizeof(w->ini), "%s/app.ini", w->dir);
        FILE *f = fopen(w->ini, "we");
        assert_non_null(f);
        fputs("[uwsgi]\nreload-mercy = 5\n", f);
        fclose(f);
        ManagerOptions o = {
                .conf_dir = w->dir,
                .run_dir = w->dir,
                .state_dir = w->dir,
                .vassal_path = "/nonexistent/vassal",
                .ready_timeout = READY_TIMEOUT,
                .ops = &fake_ops,
        };
        assert_int_equal(manager_new(&o, &w->m), 0);
        ScanEntry e = entry();
        w->i = instance_new(w->m, &e);
        assert_non_null(w->i);
        manager_add(w->m, w->i);
        return 0;
}

static int teardown(void **state_) {
        char cmd[128];
        (void) state_;
        manager_free(w->m);
        for (size_t k = 0; k < w->n_children; k++)
                free(w->children[k]);
        for (size_t k = 0; k < w->n_timers; k++)
                free(w->timers[k]);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
        assert_int_equal(system(cmd), 0);
        free(w);
        w = NULL;
        return 0;
}

/* Found, checked, spawned, ready: the vassal it returns serves. */
static ManagerChild *start_running(void) {
        instance_start(w->i);
        assert_int_equal(state(), STATE_STARTING);
        assert_non_null(newest(true));
        assert_null(newest(false));
        check_passes();
        ManagerChild *v = newest(false);
        assert_non_null(v);
        assert_int_equal(state(), STATE_STARTING);
        notify(v, "READY=1");
        assert_int_equal(state(), STATE_RUNNING);
        assert_int_equal(instance_pid(w->i, NULL), v->pid);
        return v;
}

/* An ini change that passes its check: the new vassal is spawned beside the old. */
static ManagerChild *reload_begins(ManagerChild *old) {
        ini_changes();
        assert_int_equal(state(), STATE_RUNNING);
        check_passes();
        assert_int_equal(state(), STATE_RELOADING);
        ManagerChild *nv = newest(false);
        assert_non_null(nv);
        assert_int_not_equal(nv->pid, old->pid);
        return nv;
}

static void assert_old_serves(ManagerChild *old) {
        assert_int_equal(state(), STATE_RUNNING);
        assert_int_equal(instance_pid(w->i, NULL), old->pid);
        assert_true(old->alive);
        assert_int_equal(old->n_signals, 0);
        assert_non_null(instance_last_error(w->i));
}

/* A watch (control.c's --wait) records what it is told. */
typedef struct Told {
        InstanceWatch watch;
        InstanceOutcome o[8];
        unsigned attempt[8];
        char error[8][128];
        size_t n;
} Told;

static void on_told(InstanceWatch *watch, Instance *i, InstanceOutcome o, unsigned attempt,
                    bool restarting, const char *error) {
        Told *t = (Told *) watch;
        (void) i;
        (void) restarting;
        if (t->n < 8) {
                t->o[t->n] = o;
                t->attempt[t->n] = attempt;
                snprintf(t->error[t->n], sizeof(t->error[0]), "%s", error ? error : "");
                t->n++;
        }
}

/* Each attempt ends in one outcome, with its number: a reload's UP once the new one is ready,
 * FAILED with the check's errors (its warnings kept apart), STOPPED after a stop. */
static void test_watch_hears_each_attempt_end(void **state_) {
        Told t = { .watch.tell = on_told };
        const char *error = NULL;
        (void) state_;
        ManagerChild *old = start_running();
        unsigned a0 = instance_attempt(w->i);
        instance_watch_add(w->i, &t.watch);
        ManagerChild *nv = reload_begins(old);
        assert_int_equal(t.n, 0);
        notify(nv, "READY=1");
        assert_int_equal(t.n, 1);
        assert_int_equal(t.o[0], INSTANCE_UP);
        assert_int_equal(t.attempt[0], a0 + 1);

        ini_changes();
        check_fails("app.ini:2: warning: unknown key 'x', ignored\napp.ini:3: workers: "
                    "expected a number\n");
        assert_int_equal(t.n, 2);
        assert_int_equal(t.o[1], INSTANCE_FAILED);
        assert_int_equal(t.attempt[1], a0 + 2);
        assert_string_equal(t.error[1], "app.ini:3: workers: expected a number");
        assert_string_equal(instance_last_error(w->i), "app.ini:3: workers: expected a number");
        assert_string_equal(instance_warnings(w->i), "app.ini:2: warning: unknown key 'x', ignored");

        assert_int_equal(instance_cmd_stop(w->i, &error), 0);
        exits(old, 0);
        exits(nv, 0);
        assert_int_equal(state(), STATE_STOPPED);
        assert_int_equal(t.o[t.n - 1], INSTANCE_STOPPED);
        instance_watch_remove(w->i, &t.watch);
}

static void test_start_checks_then_spawns(void **state_) {
        (void) state_;
        start_running();
        assert_int_equal(count(true), 1);
        assert_int_equal(count(false), 1);
        assert_null(instance_last_error(w->i));
}

static void test_reload_keeps_old_when_check_fails(void **state_) {
        (void) state_;
        ManagerChild *old = start_running();
        ini_changes();
        check_fails("app.ini:3: workers: expected a number\n");
        assert_old_serves(old);
        assert_string_equal(instance_last_error(w->i), "app.ini:3: workers: expected a number");
        assert_int_equal(count(false), 1);
}

static void test_reload_keeps_old_when_new_never_ready(void **state_) {
        (void) state_;
        ManagerChild *old = start_running();
        ManagerChild *nv = reload_begins(old);
        advance(READY_TIMEOUT * SEC - 1);
        assert_int_equal(nv->n_signals, 0);
        advance(1);
        assert_true(got_signal(nv, SIGKILL));
        assert_int_equal(state(), STATE_RELOADING);
        die(nv, CLD_KILLED, SIGKILL, NULL);
        assert_old_serves(old);
        assert_non_null(strstr(instance_last_error(w->i), "not ready in time"));
        /* The old one is not killed later by a leftover deadline. */
        advance(600 * SEC);
        assert_old_serves(old);
}

static void test_reload_keeps_old_when_new_dies_before_ready(void **state_) {
        (void) state_;
        ManagerChild *old = start_running();
        ManagerChild *nv = reload_begins(old);
        exits(nv, 1);
        assert_old_serves(old);
        assert_non_null(strstr(instance_last_error(w->i), "reload failed"));
        assert_int_equal(instance_restarts(w->i), 0);
}

static void test_reload_swaps_when_new_is_ready(void **state_) {
        (void) state_;
        ManagerChild *old = start_running();
        ManagerChild *nv = reload_begins(old);
        notify(nv, "READY=1");
        assert_int_equal(state(), STATE_RUNNING);
        assert_int_equal(instance_pid(w->i, NULL), nv->pid);
        assert_true(got_signal(old, SIGTERM));
        assert_false(got_signal(nv, SIGTERM));
        /* reload-mercy = 5: then SIGKILL. */
        advance(6 * SEC);
        assert_true(got_signal(old, SIGKILL));
        exits(old, 0);
        assert_int_equal(state(), STATE_RUNNING);
        assert_int_equal(instance_restarts(w->i), 0);
}

static void test_old_crash_during_reload_new_takes_over(void **state_) {
        (void) state_;
        ManagerChild *old = start_running();
        ManagerChild *nv = reload_begins(old);
        advance(5 * SEC);
        exits(old, 1);
        assert_int_equal(state(), STATE_STARTING);
        assert_int_equal(instance_pid(w->i, NULL), nv->pid);
        assert_int_equal(count(false), 2); /* no third spawn */
        notify(nv, "READY=1");
        assert_int_equal(state(), STATE_RUNNING);
        assert_int_equal(instance_pid(w->i, NULL), nv->pid);
}

static void test_new_crash_during_reload_old_serves(void **state_) {
        (void) state_;
        ManagerChild *old = start_running();
        ManagerChild *nv = reload_begins(old);
        die(nv, CLD_KILLED, SIGSEGV, NULL);
        assert_old_serves(old);
        assert_non_null(strstr(instance_last_error(w->i), "killed by signal SEGV"));
        /* A later change reloads again. */
        reload_begins(old);
}

/* A vassal that dies at once, every time: 1 s, 2, 4 ... 32 s, then 60 s; a minute of life
 * resets it (lib/backoff.h): that death respawns at once, the next waits 2 s. */
static void test_crash_loop_backoff_sequence_and_reset(void **state_) {
        static const unsigned delays[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
        (void) state_;
        ManagerChild *v = start_running();

        for (size_t k = 0; k < ELEMENTSOF(delays); k++) {
                exits(v, 1);
                assert_int_equal(state(), STATE_CRASH_LOOP);
                assert_true(fabs(instance_backoff_left(w->i) - delays[k]) < 1e-6);
                size_t spawned = count(false);
                advance(delays[k] * SEC - 1);
                assert_int_equal(count(false), spawned);
                advance(1);
                assert_int_equal(count(false), spawned + 1);
                assert_int_equal(state(), STATE_STARTING);
                v = newest(false);
        }
        assert_int_equal(instance_restarts(w->i), ELEMENTSOF(delays));
        /* Stable for a minute: the next death respawns at once, and the one after waits 1 s. */
        notify(v, "READY=1");
        advance(60 * SEC);
        size_t spawned = count(false);
        exits(v, 1);
        assert_int_equal(state(), STATE_STARTING);
        assert_int_equal(count(false), spawned + 1);
        exits(newest(false), 1);
        assert_int_equal(state(), STATE_CRASH_LOOP);
        assert_true(fabs(instance_backoff_left(w->i) - 2) < 1e-6);
}

static void test_ini_change_ends_the_backoff(void **state_) {
        (void) state_;
        ManagerChild *v = start_running();
        for (int k = 0; k < 4; k++) {
                exits(v, 1);
                advance((uint64_t) (instance_backoff_left(w->i) * SEC));
                v = newest(false);
        }
        exits(v, 1);
        assert_int_equal(state(), STATE_CRASH_LOOP);
        assert_true(instance_backoff_left(w->i) > 1);
        ini_changes();
        assert_int_equal(state(), STATE_STARTING);
        check_passes();
        v = newest(false);
        exits(v, 1);
        assert_true(fabs(instance_backoff_left(w->i) - 1) < 1e-6);
        /* The backoff of before the change is gone: nothing spawns at its time. */
        size_t spawned = count(false);
        advance(1 * SEC);
        assert_int_equal(count(false), spawned + 1);
}

static void test_stop_during_first_check(void **state_) {
        const char *error = NULL;
        (void) state_;
        instance_start(w->i);
        ManagerChild *check = newest(true);
        assert_int_equal(instance_cmd_stop(w->i, &error), 0);
        assert_true(got_signal(check, SIGKILL));
        assert_int_equal(state(), STATE_STOPPING);
        die(check, CLD_KILLED, SIGKILL, "");
        assert_int_equal(state(), STATE_STOPPED);
        assert_int_equal(count(false), 0);
        assert_int_equal(instance_cmd_stop(w->i, &error), -EALREADY);
        assert_string_equal(error, "already stopped");
}

static void test_stop_during_reload_check(void **state_) {
        const char *error = NULL;
        (void) state_;
        ManagerChild *v = start_running();
        ini_changes();
        ManagerChild *check = newest(true);
        assert_int_equal(instance_cmd_stop(w->i, &error), 0);
        assert_true(got_signal(check, SIGKILL));
        assert_true(got_signal(v, SIGTERM));
        /* The check passing (it was killed too late) starts nothing. */
        die(check, CLD_EXITED, 0, "");
        assert_int_equal(state(), STATE_STOPPING);
        assert_int_equal(count(false), 1);
        exits(v, 0);
        assert_int_equal(state(), STATE_STOPPED);
        assert_int_equal(instance_restarts(w->i), 0);
}

static void test_removal_during_reload(void **state_) {
        (void) state_;
        ManagerChild *old = start_running();
        ManagerChild *nv = reload_begins(old);
        instance_removed(w->i);
        assert_int_equal(state(), STATE_STOPPING);
        assert_true(got_signal(old, SIGTERM));
        assert_true(got_signal(nv, SIGTERM));
        /* The new one going first is no failed reload: the instance stays stopping. */
        exits(nv, 0);
        assert_int_equal(state(), STATE_STOPPING);
        assert_non_null(manager_find(w->m, "app"));
        exits(old, 0);
        assert_null(manager_find(w->m, "app"));
        w->i = NULL;
        assert_int_equal(count(false), 2);
}

static void test_exit_78_config_error_until_ini_changes(void **state_) {
        (void) state_;
        instance_start(w->i);
        check_passes();
        ManagerChild *v = newest(false);
        notify(v, "STATUS=cannot import 'app:application'");
        exits(v, EX_CONFIG);
        assert_int_equal(state(), STATE_CONFIG_ERROR);
        assert_string_equal(instance_last_error(w->i), "cannot import 'app:application'");
        advance(3600 * SEC);
        assert_int_equal(state(), STATE_CONFIG_ERROR);
        assert_int_equal(count(false), 1);
        assert_null(newest(true));
        ini_changes();
        assert_int_equal(state(), STATE_STARTING);
        check_passes();
        assert_int_equal(count(false), 2);
}

static void test_commands_refused_by_state(void **state_) {
        const char *error = NULL;
        (void) state_;
        start_running();
        assert_int_equal(instance_cmd_start(w->i, &error), -EALREADY);
        assert_string_equal(error, "already running");
        assert_int_equal(instance_cmd_stop(w->i, &error), 0);
        assert_int_equal(instance_cmd_reload(w->i, &error), -ESRCH);
        assert_string_equal(error, "not running: use start");
        assert_int_equal(instance_cmd_chain_reload(w->i, &error), -ESRCH);
}

static void test_chain_reload_signals_the_vassal(void **state_) {
        const char *error = NULL;
        (void) state_;
        ManagerChild *v = start_running();
        assert_int_equal(instance_cmd_chain_reload(w->i, &error), 0);
        assert_true(got_signal(v, SIGUSR2));
        assert_int_equal(state(), STATE_RUNNING);
}

static void test_hung_master_is_killed_and_restarted(void **state_) {
        (void) state_;
        ManagerChild *v = start_running();
        advance(120 * SEC);
        size_t spawned = count(false);

        instance_hung(w->i, v->pid + 1000, 10 * SEC); /* none of ours: nothing */
        assert_false(got_signal(v, SIGKILL));
        instance_hung(w->i, v->pid, 10 * SEC);
        assert_true(got_signal(v, SIGKILL));
        assert_int_equal(state(), STATE_RUNNING); /* until it is dead */
        die(v, CLD_KILLED, SIGKILL, "");
        /* Served for two minutes: restarted at once, as after any crash. */
        assert_int_equal(state(), STATE_STARTING);
        assert_int_equal(count(false), spawned + 1);
        assert_int_equal(instance_restarts(w->i), 1);

        /* One being stopped is not judged. */
        v = newest(false);
        notify(v, "READY=1");
        const char *error = NULL;
        assert_int_equal(instance_cmd_stop(w->i, &error), 0);
        unsigned before = v->n_signals;
        instance_hung(w->i, v->pid, 10 * SEC);
        assert_int_equal(v->n_signals, before);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_start_checks_then_spawns),
                T(test_watch_hears_each_attempt_end),
                T(test_reload_keeps_old_when_check_fails),
                T(test_reload_keeps_old_when_new_never_ready),
                T(test_reload_keeps_old_when_new_dies_before_ready),
                T(test_reload_swaps_when_new_is_ready),
                T(test_old_crash_during_reload_new_takes_over),
                T(test_new_crash_during_reload_old_serves),
                T(test_crash_loop_backoff_sequence_and_reset),
                T(test_ini_change_ends_the_backoff),
                T(test_stop_during_first_check),
                T(test_stop_during_reload_check),
                T(test_removal_during_reload),
                T(test_exit_78_config_error_until_ini_changes),
                T(test_commands_refused_by_state),
                T(test_chain_reload_signals_the_vassal),
                T(test_hung_master_is_killed_and_restarted),
#undef T
        };
        return cmocka_run_group_tests_name("instance", tests, NULL, NULL);
}
