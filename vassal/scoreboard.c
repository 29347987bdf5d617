/* SPDX-License-Identifier: MIT */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "macro.h"
#include "scoreboard.h"

#define SCOREBOARD_ERROR_MAX 512

const uint32_t scoreboard_rt_bounds[SCOREBOARD_RT_BUCKETS - 1] = {
        250,     400,     600,     1000,     1500,     2500,     4000,    6000,   10000,
        15000,   25000,   40000,   60000,    100000,   150000,   250000,  400000, 600000,
        1000000, 1500000, 2500000, 4000000, 6000000, 10000000, 15000000, 30000000,
};

/* The shared region: this header, then the slots. */
typedef struct ScoreboardShared {
        atomic_flag error_taken;
        _Atomic bool error_set;
        char error[SCOREBOARD_ERROR_MAX];
} __attribute__((aligned(64))) ScoreboardShared;

/* The handle, in each process's own memory (copied by fork, pointing at the same region). */
struct Scoreboard {
        void *map;
        size_t map_size;
        ScoreboardShared *shared;
        ScoreboardSlot *slots;
        size_t n;
        ScoreboardCore *cores; /* cores_per_slot for slot 1, then for slot 2, ... */
        size_t cores_per_slot;
};

static void cJSON_Deletep(cJSON **j) {
        if (*j)
                cJSON_Delete(*j);
}

int scoreboard_new(size_t n_slots, size_t cores_per_slot, Scoreboard **ret) {
        Scoreboard *sb = calloc(1, sizeof(*sb));
        if (!sb)
                return -ENOMEM;
        sb->n = n_slots;
        sb->cores_per_slot = cores_per_slot;
        sb->map_size = sizeof(ScoreboardShared) + n_slots * sizeof(ScoreboardSlot) +
                       n_slots * cores_per_slot * sizeof(ScoreboardCore);
        /* Anonymous and shared: inherited by every fork, zero-filled, never backed by a file.
         * Pages are only used once touched: 1024 workers x 10000 threads reserve address space,
         * not memory (hence no commit charge either). */
        sb->map = mmap(NULL, sb->map_size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (sb->map == MAP_FAILED) {
                int r = -errno;
                free(sb);
                return r;
        }
        sb->shared = sb->map;
        atomic_flag_clear(&sb->shared->error_taken);
        sb->slots = (ScoreboardSlot *) (sb->shared + 1);
        sb->cores = (ScoreboardCore *) (sb->slots + n_slots);
        for (size_t i = 0; i < n_slots; i++) {
                sb->slots[i].cores = sb->cores + i * cores_per_slot;
                sb->slots[i].n_cores = (uint32_t) cores_per_slot;
        }
        *ret = sb;
        return 0;
}

Scoreboard *scoreboard_free(Scoreboard *sb) {
        if (!sb)
                return NULL;
        (void) munmap(sb->map, sb->map_size);
        free(sb);
        return NULL;
}

size_t scoreboard_size(const Scoreboard *sb) {
        return sb->n;
}

ScoreboardSlot *scoreboard_slot(Scoreboard *sb, size_t id) {
        return id >= 1 && id <= sb->n ? &sb->slots[id - 1] : NULL;
}

size_t scoreboard_cores_per_slot(const Scoreboard *sb) {
        return sb->cores_per_slot;
}

static const ScoreboardCore *core_at(const Scoreboard *sb, size_t id, size_t index) {
        return id >= 1 && id <= sb->n && index < sb->cores_per_slot
                       ? &sb->cores[(id - 1) * sb->cores_per_slot + index]
                       : NULL;
}

ScoreboardCore *scoreboard_core(Scoreboard *sb, size_t id, size_t index) {
        return (ScoreboardCore *) core_at(sb, id, index);
}

bool scoreboard_core_request(const ScoreboardCore *c, ScoreboardRequest *ret) {
        /* The seqlock's read side. The copy may race with the thread writing the next request
         * (bytes, never pointers); the counts around it tell us to throw such a copy away. The
         * lengths are clamped: a worker's memory is not trusted to stay sane. */
        for (int tries = 0; tries < 4; tries++) {
                uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
                if (seq & 1)
                        continue;
                ret->start = atomic_load_explicit(&c->request_start, memory_order_relaxed);
                ret->method_len = MIN((size_t) c->method_len, sizeof(c->method));
                ret->uri_len = MIN((size_t) c->uri_len, sizeof(c->uri));
                memcpy(ret->method, c->method, ret->method_len);
                memcpy(ret->uri, c->uri, ret->uri_len);
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&c->seq, memory_order_relaxed) != seq)
                        continue;
                ret->method[ret->method_len] = 0;
                ret->uri[ret->uri_len] = 0;
                return ret->start != 0;
        }
        return false;
}

void scoreboard_slot_spawned(ScoreboardSlot *s, pid_t pid, uint64_t respawn_count) {
        atomic_store(&s->busy, 0);
        atomic_store(&s->respawn_count, respawn_count);
        atomic_store(&s->last_spawn, (int64_t) time(NULL));
        atomic_store(&s->requests_at_spawn, atomic_load(&s->requests));
        s->exit_reason[0] = 0;
        atomic_store(&s->pid, (int32_t) pid);
}

void scoreboard_slot_exited(ScoreboardSlot *s) {
        atomic_store(&s->pid, 0);
        /* A worker killed mid-request never ended it. */
        atomic_store(&s->busy, 0);
        /* Nor do its threads' requests: the next process must not inherit their start times
         * (harakiri would kill it at once). It is gone, so nobody writes them now. */
        for (uint32_t i = 0; i < s->n_cores; i++)
                atomic_store(&s->cores[i].request_start, 0);
}

void scoreboard_slot_set_cheap(ScoreboardSlot *s, bool cheap) {
        atomic_store(&s->cheap, cheap);
}

void scoreboard_set_error(Scoreboard *sb, const char *message) {
        if (!message || atomic_flag_test_and_set(&sb->shared->error_taken))
                return;
        (void) snprintf(sb->shared->error, sizeof(sb->shared->error), "%s", message);
        atomic_store_explicit(&sb->shared->error_set, true, memory_order_release);
}

const char *scoreboard_error(const Scoreboard *sb) {
        return atomic_load_explicit(&sb->shared->error_set, memory_order_acquire)
                       ? sb->shared->error
                       : NULL;
}

void scoreboard_totals(const Scoreboard *sb, ScoreboardTotals *ret) {
        *ret = (ScoreboardTotals) {};
        for (size_t i = 0; i < sb->n; i++) {
                const ScoreboardSlot *s = &sb->slots[i];
                ret->workers += atomic_load_explicit(&s->pid, memory_order_relaxed) > 0;
                ret->busy += atomic_load_explicit(&s->busy, memory_order_relaxed);
                ret->requests += atomic_load_explicit(&s->requests, memory_order_relaxed);
                ret->exceptions += atomic_load_explicit(&s->exceptions, memory_order_relaxed);
                ret->errors += atomic_load_explicit(&s->errors, memory_order_relaxed);
                ret->tx += atomic_load_explicit(&s->tx, memory_order_relaxed);
        }
}

void scoreboard_histogram(const Scoreboard *sb, ScoreboardHistogram *ret) {
        *ret = (ScoreboardHistogram) {};
        for (size_t i = 0; i < sb->n; i++) {
                const ScoreboardSlot *s = &sb->slots[i];
                for (size_t b = 0; b < SCOREBOARD_RT_BUCKETS; b++)
                        ret->counts[b] += atomic_load_explicit(&s->rt_hist[b],
                                                               memory_order_relaxed);
                ret->sum += atomic_load_explicit(&s->running_time, memory_order_relaxed);
        }
}

void scoreboard_histogram_delta(const ScoreboardHistogram *now, const ScoreboardHistogram *before,
                                ScoreboardHistogram *ret) {
        for (size_t b = 0; b < SCOREBOARD_RT_BUCKETS; b++)
                ret->counts[b] = now->counts[b] >= before->counts[b]
                                         ? now->counts[b] - before->counts[b]
                                         : 0;
        ret->sum = now->sum >= before->sum ? now->sum - before->sum : 0;
}

uint64_t scoreboard_histogram_count(const ScoreboardHistogram *h) {
        uint64_t n = 0;
        for (size_t b = 0; b < SCOREBOARD_RT_BUCKETS; b++)
                n += h->counts[b];
        return n;
}

double scoreboard_histogram_quantile(const ScoreboardHistogram *h, double q) {
        uint64_t n = scoreboard_histogram_count(h);
        if (n == 0)
                return -1;
        /* The rank of the quantile among the n requests, then the bucket that holds it and
         * where in that bucket it falls (requests spread evenly across a bucket). */
        double rank = q * (double) n, below = 0;
        for (size_t b = 0; b < SCOREBOARD_RT_BUCKETS; b++) {
                double in = (double) h->counts[b];
                if (in == 0 || below + in < rank) {
                        below += in;
                        continue;
                }
                if (b == SCOREBOARD_RT_BUCKETS - 1)
                        return scoreboard_rt_bounds[b - 1];
                double lo = b == 0 ? 0 : scoreboard_rt_bounds[b - 1], hi = scoreboard_rt_bounds[b];
                return lo + (hi - lo) * (rank - below) / in;
        }
        /* Only for q > 1, or rounding at q = 1: the highest bucket with a request. */
        for (size_t b = SCOREBOARD_RT_BUCKETS; b-- > 0;)
                if (h->counts[b] > 0)
                        return scoreboard_rt_bounds[MIN(b, (size_t) SCOREBOARD_RT_BUCKETS - 2)];
        return -1;
}

void scoreboard_window_init(ScoreboardWindow *w, const Scoreboard *sb, uint64_t now_usec,
                            uint64_t cpu_time, unsigned n_cpus) {
        *w = (ScoreboardWindow) {
                .p99_rt = -1,
                .cpu_time = cpu_time,
                .start_usec = now_usec,
                .start_cpu = cpu_time,
                .cpu_max = 100.0 * MAX(n_cpus, 1u),
        };
        scoreboard_histogram(sb, &w->start_hist);
}

void scoreboard_window_advance(ScoreboardWindow *w, const Scoreboard *sb, uint64_t now_usec,
                               uint64_t cpu_time) {
        ScoreboardHistogram now, delta;

        scoreboard_histogram(sb, &now);
        scoreboard_histogram_delta(&now, &w->start_hist, &delta);
        w->p99_rt = scoreboard_histogram_quantile(&delta, 0.99);
        /* The CPU time only grows (cputime.h); the clamps keep a glitch from turning into a
         * negative or impossible percentage. */
        uint64_t used = cpu_time >= w->start_cpu ? cpu_time - w->start_cpu : 0;
        uint64_t elapsed = now_usec > w->start_usec ? now_usec - w->start_usec : 0;
        w->cpu = elapsed > 0 ? MIN(100.0 * (double) used / (double) elapsed, w->cpu_max) : 0;
        w->cpu_time = MAX(cpu_time, w->cpu_time);
        w->measured = true;
        w->start_usec = now_usec;
        w->start_cpu = MAX(cpu_time, w->start_cpu);
        w->start_hist = now;
}

static bool add_number(cJSON *o, const char *name, double v) {
        return cJSON_AddNumberToObject(o, name, v) != NULL;
}

static bool add_zeros(cJSON *o, const char *const *names, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!add_number(o, names[i], 0))
                        return false;
        return true;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), or 0 when there is none. NUL counts as malformed. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
        if (n == 0 || s[0] == 0)
                return 0;
        if (s[0] < 0x80)
                return 1;
        size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                     : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
        if (len == 0 || len > n)
                return 0;
        for (size_t i = 1; i < len; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
            (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
                return 0;
        return len;
}

/* prefix + s as valid UTF-8 into buf (every malformed byte becomes U+FFFD), NUL-terminated.
 * buf holds at least strlen(prefix) + 3 * n + 1 bytes. JSON wants UTF-8; request bytes are
 * whatever a client sent. */
static char *utf8_with_prefix(char *buf, const char *prefix, const char *s, size_t n) {
        size_t o = strlen(prefix);
        memcpy(buf, prefix, o);
        for (size_t i = 0; i < n;) {
                size_t k = utf8_sequence((const unsigned char *) s + i, n - i);
                if (k == 0) {
                        memcpy(buf + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(buf + o, s + i, k);
                o += k;
                i += k;
        }
        buf[o] = 0;
        return buf;
}

/* One thread of a worker; now_mono/now_real convert its request's start to the epoch. */
static cJSON *core_json(const ScoreboardCore *c, size_t index, int64_t spawn_floor,
                        int64_t now_mono, int64_t now_real) {
        static const char *const zeros[] = { "static_requests", "routed_requests",
                                             "offloaded_requests", "write_errors", "read_errors" };
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        ScoreboardRequest req;
        bool busy = scoreboard_core_request(c, &req) && req.start >= spawn_floor;

        if (!o || !add_number(o, "id", (double) index) ||
            !add_number(o, "requests", atomic_load_explicit(&c->requests, memory_order_relaxed)) ||
            !add_zeros(o, zeros, ELEMENTSOF(zeros)) || !add_number(o, "in_request", busy))
                return NULL;
        if (busy) {
                char buf[sizeof("REQUEST_METHOD=") + 3 * sizeof(req.uri) + 16];
                cJSON *vars = cJSON_AddArrayToObject(o, "vars");
                cJSON *info = cJSON_AddObjectToObject(o, "req_info");
                cJSON *m = cJSON_CreateString(
                        utf8_with_prefix(buf, "REQUEST_METHOD=", req.method, req.method_len));
                if (!vars || !info || !m || !cJSON_AddItemToArray(vars, m))
                        return cJSON_Delete(m), NULL;
                cJSON *u = cJSON_CreateString(
                        utf8_with_prefix(buf, "REQUEST_URI=", req.uri, req.uri_len));
                if (!u || !cJSON_AddItemToArray(vars, u))
                        return cJSON_Delete(u), NULL;
                if (!add_number(info, "request_start",
                                (double) ((now_real - (now_mono - req.start)) / 1000000)))
                        return NULL;
        }
        return TAKE_PTR(o);
}

static int64_t clock_usec(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static cJSON *slot_json(const ScoreboardSlot *s, size_t id, bool with_cores) {
        static const char *const zeros[] = { "signals", "signal_queue" };
        _cleanup_(cJSON_Deletep) cJSON *w = cJSON_CreateObject();
        uint32_t busy = atomic_load_explicit(&s->busy, memory_order_relaxed);
        int32_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        uint64_t requests = atomic_load_explicit(&s->requests, memory_order_relaxed);
        uint64_t at_spawn = atomic_load_explicit(&s->requests_at_spawn, memory_order_relaxed);
        /* As uWSGI shows a worker the cheaper stopped: "cheap", pid 0. */
        const char *status = busy > 0                                  ? "busy"
                             : pid == 0 && atomic_load(&s->cheap) > 0 ? "cheap"
                                                                      : "idle";
        if (!w)
                return NULL;
        if (!add_number(w, "id", (double) id) || !add_number(w, "pid", pid) ||
            !add_number(w, "accepting", pid > 0) || !add_number(w, "requests", requests) ||
            !add_number(w, "delta_requests", requests >= at_spawn ? requests - at_spawn : 0) ||
            !add_number(w, "exceptions",
                        atomic_load_explicit(&s->exceptions, memory_order_relaxed)) ||
            !add_number(w, "errors", atomic_load_explicit(&s->errors, memory_order_relaxed)) ||
            !add_number(w, "harakiri_count",
                        atomic_load_explicit(&s->harakiri_count, memory_order_relaxed)) ||
            !add_zeros(w, zeros, ELEMENTSOF(zeros)) ||
            !cJSON_AddStringToObject(w, "status", status) ||
            !add_number(w, "rss", atomic_load_explicit(&s->rss, memory_order_relaxed)) ||
            !add_number(w, "vsz", atomic_load_explicit(&s->vsz, memory_order_relaxed)) ||
            !add_number(w, "avg_rt", atomic_load_explicit(&s->avg_rt, memory_order_relaxed)) ||
            !add_number(w, "tx", atomic_load_explicit(&s->tx, memory_order_relaxed)) ||
            !add_number(w, "respawn_count",
                        atomic_load_explicit(&s->respawn_count, memory_order_relaxed)) ||
            !add_number(w, "running_time",
                        atomic_load_explicit(&s->running_time, memory_order_relaxed)) ||
            !add_number(w, "last_spawn", atomic_load_explicit(&s->last_spawn, memory_order_relaxed)) ||
            !cJSON_AddArrayToObject(w, "apps"))
                return NULL;
        if (!with_cores)
                return TAKE_PTR(w);

        cJSON *cores = cJSON_AddArrayToObject(w, "cores");
        if (!cores)
                return NULL;
        int64_t now_mono = clock_usec(CLOCK_MONOTONIC), now_real = clock_usec(CLOCK_REALTIME);
        /* A slot without a process has no request in flight, whatever its cores still say. */
        int64_t floor = pid > 0 ? 1 : INT64_MAX;
        for (uint32_t i = 0; i < s->n_cores; i++) {
                cJSON *c = core_json(&s->cores[i], i, floor, now_mono, now_real);
                if (!c)
                        return NULL;
                if (!cJSON_AddItemToArray(cores, c)) {
                        cJSON_Delete(c);
                        return NULL;
                }
        }
        return TAKE_PTR(w);
}

static cJSON *sockets_json(const ScoreboardInfo *info) {
        _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();
        if (!a)
                return NULL;
        for (size_t i = 0; i < info->n_sockets; i++) {
                const ScoreboardSocket *so = &info->sockets[i];
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(a, o)) {
                        cJSON_Delete(o);
                        return NULL;
                }
                if (!cJSON_AddStringToObject(o, "name", strempty(so->name)) ||
                    !cJSON_AddStringToObject(o, "proto", strempty(so->proto)) ||
                    !add_number(o, "queue", (double) so->queue) ||
                    !add_number(o, "max_queue", (double) so->max_queue) ||
                    !add_number(o, "shared", 0) || !add_number(o, "can_offload", 0))
                        return NULL;
        }
        return TAKE_PTR(a);
}

/* "rt_hist": the histogram with cumulative counts, as Prometheus wants its buckets. */
static cJSON *histogram_json(const ScoreboardHistogram *h) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *le, *counts;
        uint64_t n = 0;

        if (!o || !(le = cJSON_AddArrayToObject(o, "le_us")) ||
            !(counts = cJSON_AddArrayToObject(o, "counts")))
                return NULL;
        for (size_t b = 0; b < SCOREBOARD_RT_BUCKETS - 1; b++) {
                n += h->counts[b];
                cJSON *x = cJSON_CreateNumber(scoreboard_rt_bounds[b]);
                if (!x || !cJSON_AddItemToArray(le, x))
                        return cJSON_Delete(x), NULL;
                x = cJSON_CreateNumber((double) n);
                if (!x || !cJSON_AddItemToArray(counts, x))
                        return cJSON_Delete(x), NULL;
        }
        n += h->counts[SCOREBOARD_RT_BUCKETS - 1];
        if (!add_number(o, "sum_us", (double) h->sum) || !add_number(o, "count", (double) n))
                return NULL;
        return TAKE_PTR(o);
}

/* What the master measured over its last interval: "p99_rt", "cpu", "cpu_time" (none while
 * w is NULL or not measured yet). */
static bool add_window(cJSON *root, const ScoreboardWindow *w) {
        if (!w || !w->measured)
                return true;
        /* No request in the interval: its p99 is unknown, which 0 would misstate. Whole µs
         * and hundredths of a percent: no false precision in 17 digits. */
        if (!(w->p99_rt >= 0 ? add_number(root, "p99_rt", (double) (uint64_t) (w->p99_rt + 0.5))
                             : cJSON_AddNullToObject(root, "p99_rt") != NULL))
                return false;
        return add_number(root, "cpu", (double) (uint64_t) (w->cpu * 100 + 0.5) / 100) &&
               add_number(root, "cpu_time", (double) w->cpu_time);
}

/* The fields past uWSGI's: "rt_hist", and the last interval's measures. */
static bool add_measures(cJSON *root, const ScoreboardInfo *info, const ScoreboardHistogram *h) {
        cJSON *hist = histogram_json(h);

        if (!hist || !cJSON_AddItemToObject(root, "rt_hist", hist)) {
                cJSON_Delete(hist);
                return false;
        }
        return add_window(root, info->window);
}

char *scoreboard_window_json(const ScoreboardWindow *w) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        return root && add_window(root, w) ? cJSON_PrintUnformatted(root) : NULL;
}

/* The object with the first n_workers slots. */
static cJSON *stats_object(const Scoreboard *sb, const ScoreboardInfo *info,
                           const ScoreboardTotals *t, const ScoreboardHistogram *h,
                           size_t n_workers) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        cJSON *workers, *sockets;

        if (!root || !cJSON_AddStringToObject(root, "version", strempty(info->version)) ||
            !add_number(root, "listen_queue", (double) info->listen_queue) ||
            !add_number(root, "listen_queue_errors", (double) info->listen_queue_errors) ||
            !add_number(root, "signal_queue", 0) ||
            !add_number(root, "load", (double) t->busy) ||
            !add_number(root, "pid", info->pid) ||
            !add_number(root, "uid", info->uid) ||
            !add_number(root, "gid", info->gid) ||
            !cJSON_AddStringToObject(root, "cwd", strempty(info->cwd)) ||
            !cJSON_AddStringToObject(root, "log", strempty(info->log)) ||
            !cJSON_AddArrayToObject(root, "locks"))
                return NULL;
        sockets = sockets_json(info);
        if (!sockets || !cJSON_AddItemToObject(root, "sockets", sockets)) {
                cJSON_Delete(sockets);
                return NULL;
        }
        if (!(workers = cJSON_AddArrayToObject(root, "workers")))
                return NULL;
        for (size_t i = 0; i < n_workers; i++) {
                cJSON *w = slot_json(&sb->slots[i], i + 1, info->cores);
                if (!w)
                        return NULL;
                if (!cJSON_AddItemToArray(workers, w)) {
                        cJSON_Delete(w);
                        return NULL;
                }
        }
        if (n_workers < sb->n && !cJSON_AddTrueToObject(root, "workers_truncated"))
                return NULL;
        if (!add_number(root, "requests", (double) t->requests) ||
            !add_number(root, "exceptions", (double) t->exceptions) ||
            !add_number(root, "errors", (double) t->errors) || !add_measures(root, info, h))
                return NULL;
        return TAKE_PTR(root);
}

/* The object printed as one line with the first n workers, and its length. */
static char *stats_print(const Scoreboard *sb, const ScoreboardInfo *info,
                         const ScoreboardTotals *t, const ScoreboardHistogram *h, size_t n,
                         size_t *ret_len) {
        _cleanup_(cJSON_Deletep) cJSON *root = stats_object(sb, info, t, h, n);
        char *s = root ? cJSON_PrintUnformatted(root) : NULL;
        if (s)
                *ret_len = strlen(s);
        return s;
}

char *scoreboard_stats_json(const Scoreboard *sb, const ScoreboardInfo *info, size_t max_size) {
        ScoreboardTotals t;
        ScoreboardHistogram h;
        size_t len, base_len;

        /* The totals are read once, so they agree with themselves whatever is cut. */
        scoreboard_totals(sb, &t);
        scoreboard_histogram(sb, &h);
        char *s = stats_print(sb, info, &t, &h, sb->n, &len);
        if (!s || len < max_size)
                return s;
        free(s);

        /* Too long: the size without workers, and then as many as fit by their average size,
         * fewer while the actual ones run longer (ids grow a digit now and then). */
        s = stats_print(sb, info, &t, &h, 0, &base_len);
        if (!s || base_len >= max_size)
                return mfree(s);
        free(s);
        size_t per = (len - base_len) / sb->n + 1;
        size_t n = MIN((max_size - 1 - base_len) / per, sb->n - 1);
        for (;;) {
                s = stats_print(sb, info, &t, &h, n, &len);
                if (!s || len < max_size || n == 0)
                        return s;
                free(s);
                n -= MIN(n, n / 32 + 1);
        }
}

void scoreboard_status(const Scoreboard *sb, char *buf, size_t size) {
        ScoreboardTotals t;
        scoreboard_totals(sb, &t);
        (void) snprintf(buf, size, "%zu worker%s, %llu busy, %llu request%s", t.workers,
                        t.workers == 1 ? "" : "s", (unsigned long long) t.busy,
                        (unsigned long long) t.requests, t.requests == 1 ? "" : "s");
}
