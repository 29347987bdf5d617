/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "log.h"
#include "store.h"

#define USEC_PER_SEC 1000000ULL
/* A tick longer than this is worth a warning (rate-limited): the loop stalled for it. */
#define SLOW_TICK_USEC (100 * 1000ULL)

struct History {
        Manager *m;
        Store *store;
        sd_event_source *timer;
        uint64_t interval_usec;
        StoreSample *buf;
        size_t cap;
        uint64_t last_tick_usec;
        uint64_t slow_logged_usec;
};

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* What each kind of transition is called in the events table (store.h lists the kinds). */
static const char *transition_kind(InstanceState to) {
        switch (to) {
        case STATE_RELOADING:
                return "reload";
        case STATE_STOPPING:
                return "stop";
        case STATE_CRASH_LOOP:
                return "backoff";
        default:
                return instance_state_to_string(to);
        }
}

/* Collects every vassal's latest stats and writes them as one tick. */
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        History *h = userdata;
        uint64_t start = mono_usec();
        size_t n = 0;

        manager_collect_reports(h->m);

        if (h->cap < manager_size(h->m)) {
                size_t cap = manager_size(h->m) + 16;
                StoreSample *b = reallocarray(h->buf, cap, sizeof(StoreSample));
                if (b) {
                        h->buf = b;
                        h->cap = cap;
                }
        }
        for (Instance *i = manager_first(h->m); i && n < h->cap; i = manager_next(h->m, i)) {
                const VassalStats *vs = instance_stats(i);
                StoreSample *x = &h->buf[n];
                if (!vs)
                        continue;
                *x = (StoreSample) { .name = instance_name(i), .ini = instance_path(i) };
                x->pid = instance_pid(i, &x->report_usec);
                store_sample_from_vstats(vs, x);
                n++;
        }
        (void) store_tick(h->store, h->buf, n);
        h->last_tick_usec = mono_usec() - start;
        log_debug("stats tick: %zu vassal(s) in %.2f ms", n, (double) h->last_tick_usec / 1000);
        if (h->last_tick_usec > SLOW_TICK_USEC &&
            (h->slow_logged_usec == 0 || start - h->slow_logged_usec > 60 * USEC_PER_SEC)) {
                log_warning("stats tick: %zu vassal(s) took %.0f ms", n,
                            (double) h->last_tick_usec / 1000);
                h->slow_logged_usec = start;
        }
        (void) sd_event_source_set_time(s, usec + h->interval_usec);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* RUN_DIR/stats.db → the store, so `emperorctl --run-dir DIR stats` finds it without being
 * told the state dir. Replaced atomically; left in place at exit (the history commands work
 * while the emperor is down). */
static void link_store(const char *run_dir, const char *db) {
        _cleanup_free_ char *target = NULL, *link = NULL, *tmp = NULL;
        _cleanup_free_ char *dir = realpath(run_dir, NULL);
        char *slash;

        if (!dir || !db)
                return;
        /* The state dir exists by now (the store made it); the file may not yet. */
        _cleanup_free_ char *state = strdup(db);
        if (!state || !(slash = strrchr(state, '/')))
                return;
        *slash = 0;
        _cleanup_free_ char *state_abs = realpath(state[0] ? state : "/", NULL);
        if (!state_abs || asprintf(&target, "%s/stats.db", state_abs) < 0) {
                target = NULL;
                return;
        }
        if (asprintf(&link, "%s/stats.db", dir) < 0) {
                link = NULL;
                return;
        }
        if (streq(target, link))
                return; /* the state dir is the run dir */
        if (asprintf(&tmp, "%s/.stats.db.%d", dir, getpid()) < 0) {
                tmp = NULL;
                return;
        }
        (void) unlink(tmp);
        if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
                log_debug_errno(errno, "Cannot link '%s' to the stats store: %m", link);
                (void) unlink(tmp);
        }
}

int history_new(Manager *m, const ManagerOptions *o, History **ret) {
        History *h = calloc(1, sizeof(History));
        int r;

        if (!h)
                return -ENOMEM;
        h->m = m;
        h->interval_usec = (uint64_t) o->stats_interval * USEC_PER_SEC;
        StoreOptions so = {
                .state_dir = o->state_dir,
                .retain_raw = o->retain_raw,
                .retain_minutes = o->retain_minutes,
                .retain_hours = o->retain_hours,
                .max_bytes = o->store_max_bytes,
        };
        r = store_new(&so, &h->store);
        if (r < 0) {
                free(h);
                return r;
        }
        link_store(o->run_dir, store_path(h->store));
        if (h->interval_usec > 0) {
                /* 1 ms accuracy: a tick lands on its second (samples are keyed by it). */
                r = sd_event_add_time_relative(manager_event(m), &h->timer, CLOCK_MONOTONIC,
                                               h->interval_usec, 1000, on_tick, h);
                if (r < 0) {
                        history_free(h);
                        return log_error_errno(r, "stats timer: %m");
                }
        }
        history_event(h, NULL, "emperor", "started (pid %d)", getpid());
        *ret = h;
        return 0;
}

History *history_free(History *h) {
        if (!h)
                return NULL;
        sd_event_source_disable_unref(h->timer);
        history_event(h, NULL, "emperor", "stopped (pid %d)", getpid());
        store_free(h->store);
        free(h->buf);
        free(h);
        return NULL;
}

static void history_eventv(History *h, const char *name, const char *ini, const char *kind,
                           const char *fmt, va_list ap) _printf_(5, 0);
static void history_eventv(History *h, const char *name, const char *ini, const char *kind,
                           const char *fmt, va_list ap) {
        char detail[1024];
        if (!h)
                return;
        (void) vsnprintf(detail, sizeof(detail), fmt, ap);
        (void) store_event(h->store, name, ini, kind, detail);
}

void history_event(History *h, const Instance *i, const char *kind, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        history_eventv(h, i ? instance_name(i) : NULL, i ? instance_path(i) : NULL, kind, fmt, ap);
        va_end(ap);
}

void history_event_named(History *h, const char *name, const char *ini, const char *kind,
                         const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        history_eventv(h, name, ini, kind, fmt, ap);
        va_end(ap);
}

void history_transition(History *h, const Instance *i, InstanceState from, InstanceState to,
                        const char *detail) {
        history_event(h, i, transition_kind(to), "%s -> %s%s%s", instance_state_to_string(from),
                      instance_state_to_string(to), detail ? ": " : "", strempty(detail));
}

uint64_t history_last_tick_usec(const History *h) {
        return h ? h->last_tick_usec : 0;
}
