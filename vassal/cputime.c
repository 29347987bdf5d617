/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cputime.h"
#include "log.h"
#include "macro.h"

typedef struct CpuWatch {
        pid_t pid;
        uint64_t base; /* µs: its reading when watched (0 from its fork) */
        uint64_t last; /* µs: its latest reading */
} CpuWatch;

struct CpuTime {
        uint64_t self_base; /* µs: the master's reading at cputime_new() */
        uint64_t done;      /* µs used by the processes unwatched */
        uint64_t total;     /* the last answer */
        CpuWatch *items;
        size_t n, size;
};

int cputime_process_usec(pid_t pid, uint64_t *ret) {
        clockid_t id = CLOCK_PROCESS_CPUTIME_ID;
        struct timespec ts;

        /* Any process's clock may be read (no permission check for reading); a zombie's still
         * holds its whole life until it is reaped. */
        if (pid > 0) {
                int r = clock_getcpuclockid(pid, &id);
                if (r != 0)
                        return -r;
        }
        if (clock_gettime(id, &ts) < 0)
                return -errno;
        *ret = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        return 0;
}

int cputime_new(CpuTime **ret) {
        CpuTime *c = calloc(1, sizeof(CpuTime));
        if (!c)
                return -ENOMEM;
        (void) cputime_process_usec(0, &c->self_base);
        *ret = c;
        return 0;
}

CpuTime *cputime_free(CpuTime *c) {
        if (!c)
                return NULL;
        free(c->items);
        free(c);
        return NULL;
}

static CpuWatch *find(CpuTime *c, pid_t pid) {
        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].pid == pid)
                        return &c->items[i];
        return NULL;
}

/* A fresh reading of w, kept only when it did not go back. */
static void sample(CpuWatch *w) {
        uint64_t v;
        if (cputime_process_usec(w->pid, &v) >= 0 && v >= w->last)
                w->last = v;
}

void cputime_watch(CpuTime *c, pid_t pid, bool from_start) {
        if (pid <= 0 || find(c, pid))
                return;
        CpuWatch w = { .pid = pid };
        if (!from_start) {
                if (cputime_process_usec(pid, &w.base) < 0)
                        return; /* gone already: nothing of it is ours */
                w.last = w.base;
        }
        if (c->n == c->size) {
                size_t size = MAX(c->size * 2, (size_t) 8);
                CpuWatch *items = reallocarray(c->items, size, sizeof(CpuWatch));
                if (!items) {
                        log_debug("cputime: out of memory, pid %d not counted", (int) pid);
                        return;
                }
                c->items = items;
                c->size = size;
        }
        c->items[c->n++] = w;
}

void cputime_unwatch(CpuTime *c, pid_t pid) {
        CpuWatch *w = pid > 0 ? find(c, pid) : NULL;
        if (!w)
                return;
        sample(w);
        c->done += w->last - w->base;
        *w = c->items[--c->n];
}

uint64_t cputime_total(CpuTime *c) {
        uint64_t self = 0, total = c->done;

        if (cputime_process_usec(0, &self) >= 0 && self >= c->self_base)
                total += self - c->self_base;
        for (size_t i = 0; i < c->n; i++) {
                sample(&c->items[i]);
                total += c->items[i].last - c->items[i].base;
        }
        /* Each part only grows, so the sum does; a master reading that went back (it cannot)
         * must still not make the total do so. */
        c->total = MAX(total, c->total);
        return c->total;
}
