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
};

static void cJSON_Deletep(cJSON **j) {
        if (*j)
                cJSON_Delete(*j);
}

int scoreboard_new(size_t n_slots, Scoreboard **ret) {
        Scoreboard *sb = calloc(1, sizeof(*sb));
        if (!sb)
                return -ENOMEM;
        sb->n = n_slots;
        sb->map_size = sizeof(ScoreboardShared) + n_slots * sizeof(ScoreboardSlot);
        /* Anonymous and shared: inherited by every fork, zero-filled, never backed by a file. */
        sb->map = mmap(NULL, sb->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        if (sb->map == MAP_FAILED) {
                int r = -errno;
                free(sb);
                return r;
        }
        sb->shared = sb->map;
        atomic_flag_clear(&sb->shared->error_taken);
        sb->slots = (ScoreboardSlot *) (sb->shared + 1);
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

void scoreboard_slot_spawned(ScoreboardSlot *s, pid_t pid, uint64_t respawn_count) {
        atomic_store(&s->busy, 0);
        atomic_store(&s->respawn_count, respawn_count);
        atomic_store(&s->last_spawn, (int64_t) time(NULL));
        atomic_store(&s->pid, (int32_t) pid);
}

void scoreboard_slot_exited(ScoreboardSlot *s) {
        atomic_store(&s->pid, 0);
        /* A worker killed mid-request never ended it. */
        atomic_store(&s->busy, 0);
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
                ret->tx += atomic_load_explicit(&s->tx, memory_order_relaxed);
        }
}

static bool add_number(cJSON *o, const char *name, double v) {
        return cJSON_AddNumberToObject(o, name, v) != NULL;
}

static cJSON *slot_json(const ScoreboardSlot *s, size_t id) {
        cJSON *w = cJSON_CreateObject();
        uint32_t busy = atomic_load_explicit(&s->busy, memory_order_relaxed);
        if (!w)
                return NULL;
        if (!add_number(w, "id", (double) id) ||
            !add_number(w, "pid", atomic_load_explicit(&s->pid, memory_order_relaxed)) ||
            !add_number(w, "requests", atomic_load_explicit(&s->requests, memory_order_relaxed)) ||
            !add_number(w, "exceptions",
                        atomic_load_explicit(&s->exceptions, memory_order_relaxed)) ||
            !cJSON_AddStringToObject(w, "status", busy > 0 ? "busy" : "idle") ||
            !add_number(w, "avg_rt", atomic_load_explicit(&s->avg_rt, memory_order_relaxed)) ||
            !add_number(w, "tx", atomic_load_explicit(&s->tx, memory_order_relaxed)) ||
            !add_number(w, "respawn_count",
                        atomic_load_explicit(&s->respawn_count, memory_order_relaxed)) ||
            !add_number(w, "running_time",
                        atomic_load_explicit(&s->running_time, memory_order_relaxed)) ||
            !add_number(w, "last_spawn", atomic_load_explicit(&s->last_spawn, memory_order_relaxed))) {
                cJSON_Delete(w);
                return NULL;
        }
        return w;
}

/* The object with the first n_workers slots. */
static cJSON *stats_object(const Scoreboard *sb, const ScoreboardInfo *info,
                           const ScoreboardTotals *t, size_t n_workers) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        cJSON *workers;

        if (!root || !cJSON_AddStringToObject(root, "version", strempty(info->version)) ||
            !add_number(root, "pid", info->pid) ||
            !add_number(root, "listen_queue", (double) info->listen_queue) ||
            !add_number(root, "load", (double) t->busy) ||
            !(workers = cJSON_AddArrayToObject(root, "workers")))
                return NULL;
        for (size_t i = 0; i < n_workers; i++) {
                cJSON *w = slot_json(&sb->slots[i], i + 1);
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
            !add_number(root, "exceptions", (double) t->exceptions))
                return NULL;
        return TAKE_PTR(root);
}

/* The object printed as one line with the first n workers, and its length. */
static char *stats_print(const Scoreboard *sb, const ScoreboardInfo *info,
                         const ScoreboardTotals *t, size_t n, size_t *ret_len) {
        _cleanup_(cJSON_Deletep) cJSON *root = stats_object(sb, info, t, n);
        char *s = root ? cJSON_PrintUnformatted(root) : NULL;
        if (s)
                *ret_len = strlen(s);
        return s;
}

char *scoreboard_stats_json(const Scoreboard *sb, const ScoreboardInfo *info, size_t max_size) {
        ScoreboardTotals t;
        size_t len, base_len;

        /* The totals are read once, so they agree with themselves whatever is cut. */
        scoreboard_totals(sb, &t);
        char *s = stats_print(sb, info, &t, sb->n, &len);
        if (!s || len < max_size)
                return s;
        free(s);

        /* Too long: the size without workers, and then as many as fit by their average size,
         * fewer while the actual ones run longer (ids grow a digit now and then). */
        s = stats_print(sb, info, &t, 0, &base_len);
        if (!s || base_len >= max_size)
                return mfree(s);
        free(s);
        size_t per = (len - base_len) / sb->n + 1;
        size_t n = MIN((max_size - 1 - base_len) / per, sb->n - 1);
        for (;;) {
                s = stats_print(sb, info, &t, n, &len);
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
