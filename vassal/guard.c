/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "log.h"

#define MB ((uint64_t) 1024 * 1024)

/* What the guard knows of one worker slot. It is about process `pid`: a slot whose pid
 * changed (the worker was replaced) starts afresh. */
typedef struct GuardWorker {
        Guard *g;
        int id;
        pid_t pid;
        bool harakiri;  /* killed, or about to be, for a stuck request */
        bool recycling; /* asked to go for its memory or its age */
        int64_t seen;   /* µs CLOCK_MONOTONIC the guard first saw this process */
        sd_event_source *kill_timer; /* harakiri-verbose: SIGKILL after the report */
} GuardWorker;

typedef struct GuardListener {
        int64_t last_warning; /* µs CLOCK_MONOTONIC; 0: never */
        uint64_t unreported;  /* full checks since the last warning */
} GuardListener;

struct Guard {
        sd_event *event;
        const VassalConfig *cfg;
        Scoreboard *scoreboard;
        const ListenerSet *listeners;
        GuardOps ops;
        GuardWorker *workers;
        size_t n_workers;
        GuardListener *lq;
        size_t n_lq;
        uint64_t listen_queue_errors;
        sd_event_source *timer;
};

static int64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Guard *g = userdata;
        guard_check(g, mono_usec());
        /* The next round a second after this one was due, not after it ran: no drift. */
        int r = sd_event_source_set_time(s, usec + 1000000);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

int guard_new(const GuardParams *p, Guard **ret) {
        Guard *g = calloc(1, sizeof(*g));
        if (!g)
                return log_oom();
        *g = (Guard) {
                .event = p->event,
                .cfg = p->cfg,
                .scoreboard = p->scoreboard,
                .listeners = p->listeners,
                .ops = p->ops,
        };
        if (p->workers) {
                g->n_workers = scoreboard_size(p->scoreboard);
                g->workers = calloc(g->n_workers, sizeof(GuardWorker));
                if (!g->workers) {
                        free(g);
                        return log_oom();
                }
                for (size_t i = 0; i < g->n_workers; i++)
                        g->workers[i] = (GuardWorker) { .g = g, .id = (int) i + 1 };
        }
        if (g->event) {
                /* 10 ms accuracy: a harakiri fires within a second and 10 ms of being due
                 * (sd-event's default accuracy would add up to 250 ms). */
                int r = sd_event_add_time_relative(g->event, &g->timer, CLOCK_MONOTONIC, 1000000,
                                                   10000, on_tick, g);
                if (r < 0) {
                        guard_free(g);
                        return log_error_errno(r, "Failed to start the guard timer: %m");
                }
        }
        *ret = g;
        return 0;
}

Guard *guard_free(Guard *g) {
        if (!g)
                return NULL;
        for (size_t i = 0; i < g->n_workers; i++)
                sd_event_source_disable_unref(g->workers[i].kill_timer);
        free(g->workers);
        free(g->lq);
        sd_event_source_disable_unref(g->timer);
        free(g);
        return NULL;
}

uint64_t guard_listen_queue_errors(const Guard *g) {
        return g ? g->listen_queue_errors : 0;
}

/* ---- harakiri ---- */

/* A copy of s fit for one log line: control bytes become '?'. */
static const char *printable(char *buf, size_t size, const char *s) {
        size_t i = 0;
        for (; s[i] && i + 1 < size; i++)
                buf[i] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        buf[i] = 0;
        return buf;
}

static int on_harakiri_kill(sd_event_source *s, uint64_t usec, void *userdata) {
        GuardWorker *gw = userdata;
        ScoreboardSlot *slot = scoreboard_slot(gw->g->scoreboard, gw->id);
        (void) usec;
        gw->kill_timer = sd_event_source_disable_unref(s);
        /* Only the process that got the SIGUSR2: a replacement is not ours to kill. */
        if (slot && atomic_load(&slot->pid) == gw->pid && gw->pid > 0)
                gw->g->ops.signal(gw->g->ops.userdata, gw->id, SIGKILL);
        return 0;
}

/* Why the master is replacing the worker, for the event its exit makes (master.c); cut to the
 * slot's room. */
static void set_exit_reason(ScoreboardSlot *slot, const char *fmt, ...) _printf_(2, 3);
static void set_exit_reason(ScoreboardSlot *slot, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(slot->exit_reason, sizeof(slot->exit_reason), fmt, ap);
        va_end(ap);
}

static void harakiri(GuardWorker *gw, ScoreboardSlot *slot, const ScoreboardRequest *req,
                     int64_t now) {
        Guard *g = gw->g;
        char method[sizeof(req->method)], uri[sizeof(req->uri)];
        int64_t ms = (now - req->start) / 1000;

        gw->harakiri = true;
        atomic_fetch_add(&slot->harakiri_count, 1);
        set_exit_reason(slot, "harakiri: %s %s after %" PRId64 ".%03" PRId64 " s",
                        printable(method, sizeof(method), req->method),
                        printable(uri, sizeof(uri), req->uri), ms / 1000, ms % 1000);
        log_warning("HARAKIRI: worker %d (pid %d) has been serving %s %s for %" PRId64
                    ".%03" PRId64 " s (harakiri = %" PRId64 " s): killing it",
                    gw->id, (int) gw->pid, printable(method, sizeof(method), req->method),
                    printable(uri, sizeof(uri), req->uri), ms / 1000, ms % 1000,
                    g->cfg->harakiri);
        if (g->cfg->harakiri_verbose && g->event) {
                /* The worker's main thread answers SIGUSR2 with its requests and Python stacks;
                 * the kill comes anyway, a bounded moment later. */
                g->ops.signal(g->ops.userdata, gw->id, SIGUSR2);
                int r = sd_event_add_time_relative(g->event, &gw->kill_timer, CLOCK_MONOTONIC,
                                                   HARAKIRI_VERBOSE_GRACE_USEC, 1000,
                                                   on_harakiri_kill, gw);
                if (r >= 0)
                        return;
                log_warning_errno(r, "Failed to arm the harakiri timer: %m, killing now");
        }
        g->ops.signal(g->ops.userdata, gw->id, SIGKILL);
}

/* The oldest request in flight on slot id, if it has run for harakiri seconds or more. */
static void check_harakiri(GuardWorker *gw, ScoreboardSlot *slot, int64_t now) {
        Guard *g = gw->g;
        int64_t limit = g->cfg->harakiri * 1000000, oldest = 0;
        uint32_t oldest_core = 0;

        for (uint32_t i = 0; i < slot->n_cores; i++) {
                int64_t start = atomic_load_explicit(&slot->cores[i].request_start,
                                                     memory_order_relaxed);
                if (start > 0 && now - start >= limit && (oldest == 0 || start < oldest)) {
                        oldest = start;
                        oldest_core = i;
                }
        }
        if (oldest == 0)
                return;
        ScoreboardRequest req;
        /* Read whole; a core that moved on to another request meanwhile was not stuck. */
        if (!scoreboard_core_request(&slot->cores[oldest_core], &req) || now - req.start < limit)
                return;
        harakiri(gw, slot, &req, now);
}

/* ---- memory ---- */

int guard_parse_statm(const char *text, uint64_t *ret_vsz, uint64_t *ret_rss) {
        unsigned long long size, resident;
        if (sscanf(text, "%llu %llu", &size, &resident) != 2)
                return -EINVAL;
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        *ret_vsz = size * page;
        *ret_rss = resident * page;
        return 0;
}

int guard_read_statm(int fd, uint64_t *ret_vsz, uint64_t *ret_rss) {
        char buf[128];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return guard_parse_statm(buf, ret_vsz, ret_rss);
}

static int proc_memory(pid_t pid, uint64_t *ret_vsz, uint64_t *ret_rss) {
        char path[64];
        (void) snprintf(path, sizeof(path), "/proc/%d/statm", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return guard_read_statm(fd, ret_vsz, ret_rss);
}

void guard_memory_report(int statm_fd, char *buf, size_t size) {
        uint64_t vsz, rss;
        if (size == 0)
                return;
        buf[0] = 0;
        if (statm_fd < 0 || guard_read_statm(statm_fd, &vsz, &rss) < 0)
                return;
        (void) snprintf(buf, size,
                        "{address space usage: %" PRIu64 " bytes/%" PRIu64 "MB} "
                        "{rss usage: %" PRIu64 " bytes/%" PRIu64 "MB} ",
                        vsz, vsz / MB, rss, rss / MB);
}

static void check_memory(GuardWorker *gw, ScoreboardSlot *slot) {
        Guard *g = gw->g;
        uint64_t vsz, rss;
        int r = g->ops.memory ? g->ops.memory(g->ops.userdata, gw->pid, &vsz, &rss)
                              : proc_memory(gw->pid, &vsz, &rss);
        if (r < 0)
                return; /* it just exited: its exit is on the way */
        atomic_store_explicit(&slot->vsz, vsz, memory_order_relaxed);
        atomic_store_explicit(&slot->rss, rss, memory_order_relaxed);

        if (gw->recycling || gw->harakiri)
                return;
        const char *what = NULL;
        uint64_t value = 0;
        int64_t limit = 0;
        if (g->cfg->reload_on_as > 0 && vsz >= (uint64_t) g->cfg->reload_on_as * MB)
                what = "as", value = vsz, limit = g->cfg->reload_on_as;
        else if (g->cfg->reload_on_rss > 0 && rss >= (uint64_t) g->cfg->reload_on_rss * MB)
                what = "rss", value = rss, limit = g->cfg->reload_on_rss;
        if (!what)
                return;
        /* Only a worker that served since it started (as uWSGI checks after a request): an app
         * already past the limit when it starts would otherwise be replaced in a loop. */
        if (atomic_load(&slot->requests) == atomic_load(&slot->requests_at_spawn))
                return;
        gw->recycling = true;
        set_exit_reason(slot, "reload-on-%s: %" PRIu64 " MB of %" PRId64 " MB", what, value / MB,
                        limit);
        log_warning("worker %d (pid %d) uses %" PRIu64 " MB of %s, reload-on-%s is %" PRId64
                    " MB: replacing it once its requests finish",
                    gw->id, (int) gw->pid, value / MB,
                    streq(what, "as") ? "address space" : "resident memory", what, limit);
        g->ops.recycle(g->ops.userdata, gw->id);
}

/* ---- max-worker-lifetime ---- */

uint64_t guard_lifetime(const VassalConfig *c, int id) {
        if (c->max_worker_lifetime <= 0)
                return 0;
        return (uint64_t) c->max_worker_lifetime +
               (uint64_t) MAX(id, 0) * (uint64_t) MAX(c->max_worker_lifetime_delta, 0);
}

/* A worker past its lifetime (counted from the round that first saw it: within a second of
 * its start) finishes its requests and is replaced, within worker-reload-mercy. */
static void check_lifetime(GuardWorker *gw, ScoreboardSlot *slot, int64_t now) {
        Guard *g = gw->g;
        uint64_t lifetime = guard_lifetime(g->cfg, gw->id);

        if (lifetime == 0 || gw->recycling || gw->harakiri ||
            now - gw->seen < (int64_t) (lifetime * 1000000))
                return;
        gw->recycling = true;
        set_exit_reason(slot, "max-worker-lifetime: %" PRIu64 " s", lifetime);
        log_notice("worker %d (pid %d) reached max-worker-lifetime (%" PRIu64 " s): replacing "
                   "it once its requests finish", gw->id, (int) gw->pid, lifetime);
        g->ops.recycle(g->ops.userdata, gw->id);
}

/* ---- the listen queue ---- */

bool guard_listener_queue(int fd, uint64_t *ret_queue, uint64_t *ret_max) {
        struct tcp_info ti;
        socklen_t len = sizeof(ti);
        if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
            ti.tcpi_state != TCP_LISTEN)
                return false;
        *ret_queue = ti.tcpi_unacked;
        *ret_max = ti.tcpi_sacked;
        return true;
}

static void check_listen_queues(Guard *g, int64_t now) {
        const ListenerSet *ls = g->listeners;
        if (!ls || ls->n == 0)
                return;
        if (g->n_lq < ls->n) {
                GuardListener *lq = reallocarray(g->lq, ls->n, sizeof(*lq));
                if (!lq)
                        return;
                memset(lq + g->n_lq, 0, (ls->n - g->n_lq) * sizeof(*lq));
                g->lq = lq;
                g->n_lq = ls->n;
        }
        for (size_t i = 0; i < ls->n; i++) {
                const Listener *l = &ls->items[i];
                uint64_t queue, max;
                /* The kernel queues one more than the backlog before it drops SYNs: full is
                 * queue >= backlog. */
                if (!l->tcp || !guard_listener_queue(l->fd, &queue, &max) || max == 0 ||
                    queue < max)
                        continue;
                g->listen_queue_errors++;
                GuardListener *q = &g->lq[i];
                if (q->last_warning != 0 && now - q->last_warning < (int64_t) GUARD_LISTEN_WARN_USEC) {
                        q->unreported++;
                        continue;
                }
                if (q->unreported > 0)
                        log_warning("listen queue of socket '%s' full (%" PRIu64 "/%" PRIu64
                                    "), and %" PRIu64 " more time(s) since the last warning: "
                                    "clients wait or are refused; add workers or threads",
                                    l->address, queue, max, q->unreported);
                else
                        log_warning("listen queue of socket '%s' full (%" PRIu64 "/%" PRIu64
                                    "): clients wait or are refused; add workers or threads",
                                    l->address, queue, max);
                q->last_warning = now;
                q->unreported = 0;
        }
}

/* ---- the round ---- */

void guard_check(Guard *g, int64_t now) {
        for (size_t i = 0; i < g->n_workers; i++) {
                GuardWorker *gw = &g->workers[i];
                ScoreboardSlot *slot = scoreboard_slot(g->scoreboard, gw->id);
                pid_t pid = slot ? atomic_load(&slot->pid) : 0;
                if (pid <= 0)
                        continue;
                if (pid != gw->pid) {
                        /* A new process in the slot: nothing of the old one applies. */
                        gw->kill_timer = sd_event_source_disable_unref(gw->kill_timer);
                        gw->pid = pid;
                        gw->harakiri = gw->recycling = false;
                        gw->seen = now;
                }
                if (g->cfg->harakiri > 0 && !gw->harakiri)
                        check_harakiri(gw, slot, now);
                check_memory(gw, slot);
                check_lifetime(gw, slot, now);
        }
        check_listen_queues(g, now);
}

/* ---- the workers' side ---- */

uint64_t guard_max_requests(const VassalConfig *c, int id) {
        if (c->max_requests <= 0)
                return 0;
        uint64_t jitter = (uint64_t) (id > 1 ? id - 1 : 0) * (uint64_t) MAX(c->max_requests_delta, 0);
        return (uint64_t) c->max_requests + jitter;
}

void guard_log_requests(Scoreboard *sb, int id) {
        ScoreboardSlot *slot = scoreboard_slot(sb, id);
        int64_t now = mono_usec();
        unsigned busy = 0;

        if (!slot)
                return;
        for (uint32_t i = 0; i < slot->n_cores; i++) {
                ScoreboardRequest req;
                char method[sizeof(req.method)], uri[sizeof(req.uri)];
                if (!scoreboard_core_request(&slot->cores[i], &req))
                        continue;
                int64_t ms = (now - req.start) / 1000;
                busy++;
                log_warning("pid %d thread %u: %s %s running for %" PRId64 ".%03" PRId64 " s",
                            (int) getpid(), i + 1, printable(method, sizeof(method), req.method),
                            printable(uri, sizeof(uri), req.uri), ms / 1000, ms % 1000);
        }
        if (busy == 0)
                log_warning("pid %d: no request in flight", (int) getpid());
}
