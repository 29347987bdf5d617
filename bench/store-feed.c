/* SPDX-License-Identifier: MIT */
/* A synthetic fleet for the stats store (store/store.c), the write path the emperor runs
 * every stats interval, without the vassals:
 *
 *   store-feed realtime DIR VASSALS SECONDS PROFILE
 *       a tick a second on the real clock, as the emperor does; prints the CPU the store took
 *       (getrusage, minus the time spent making up the samples) and the ticks' durations.
 *   store-feed simulate DIR VASSALS DAYS PROFILE
 *       DAYS of history on a fake clock, as fast as it goes: a tick a minute until the last
 *       day (so the minutes and hours come from one raw sample each: noisier than the real
 *       thing, so their blocks are if anything larger), then a tick a second for the last 24
 *       hours, ending now; after each tick a minute apart, the background steps the 59 ticks
 *       between would have run. Prints the file's size.
 * $STORE_MAX_SIZE sets the store's bound (default: the store's default).
 *
 * PROFILE: idle (nothing served), busy (every vassal serving, noisy), mixed (10% busy, 30%
 * light, 60% idle: a host of a thousand apps is mostly idle ones). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "store.h"

typedef enum Kind { IDLE, LIGHT, BUSY } Kind;

typedef struct Vassal {
        char name[32];
        Kind kind;
        double base_rps, base_rt;
        uint64_t requests, errors, respawns;
        double rss;
        unsigned total;
} Vassal;

static uint64_t rng = 88172645463325252ULL;

static double uniform(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (double) (rng >> 11) / (double) (1ULL << 53);
}

static uint64_t fake_ms;
static uint64_t fake_now(void *userdata) {
        (void) userdata;
        return fake_ms;
}

static double now_s(clockid_t c) {
        struct timespec ts;
        clock_gettime(c, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
               (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static Vassal *fleet_new(size_t n, const char *profile) {
        Vassal *v = calloc(n, sizeof(Vassal));
        if (!v)
                return NULL;
        for (size_t k = 0; k < n; k++) {
                double u = uniform();
                snprintf(v[k].name, sizeof(v[k].name), "app%04zu", k);
                if (strcmp(profile, "busy") == 0)
                        v[k].kind = BUSY;
                else if (strcmp(profile, "idle") == 0)
                        v[k].kind = IDLE;
                else
                        v[k].kind = u < 0.1 ? BUSY : u < 0.4 ? LIGHT : IDLE;
                v[k].base_rps = v[k].kind == BUSY ? 5 + 495 * uniform() : 0.01 + 0.5 * uniform();
                v[k].base_rt = 2 + 48 * uniform();
                v[k].rss = (40 + 200 * uniform()) * 1048576;
                v[k].total = 1 + (unsigned) (8 * uniform());
                v[k].requests = (uint64_t) (1e6 * uniform());
        }
        return v;
}

static double gauss(void) {
        double u = uniform(), w = uniform();
        return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * w);
}

/* The vassal's report for an interval of dt seconds. The noise shrinks with what the interval
 * saw, as a real one's does: request counts are Poisson-like, an average of n response times
 * varies as 1/sqrt(n), a p99 as the square root of the requests in its tail; cpu follows the
 * requests; busy workers follow Little's law. */
static StoreSample report(Vassal *v, pid_t pid, double dt) {
        StoreSample s = { .name = v->name, .pid = pid, .p99_rt_ms = NAN, .cpu = NAN };
        double mean = v->kind == IDLE ? 0 : v->base_rps * dt;
        double n = mean > 0 ? fmax(0, round(mean + sqrt(mean) * gauss())) : 0;

        v->requests += (uint64_t) n;
        if (n > 0 && uniform() < 1 - pow(0.999, n))
                v->errors++;
        if (uniform() < 1e-5 * dt)
                v->respawns++;
        if (v->kind != IDLE && uniform() < 0.1)
                v->rss += 4096 * (uniform() < 0.5 ? -1 : 1);
        s.requests = v->requests;
        s.errors = v->errors;
        s.respawns = v->respawns;
        /* An idle vassal reports its workers' lifetime averages, which do not move. */
        s.avg_rt_ms = n > 0 ? v->base_rt * (1 + 0.3 * gauss() / sqrt(n)) : v->base_rt;
        if (n > 0)
                s.p99_rt_ms = 3 * v->base_rt * fmax(0.3, 1 + 0.5 * gauss() / sqrt(1 + 0.01 * n));
        double rps = n / dt;
        s.cpu = fmax(0, rps * v->base_rt * 0.3 / 10 * (1 + 0.05 * gauss()) + 0.02);
        s.rss = (uint64_t) v->rss;
        s.total = v->total;
        double busy = n > 0 ? round(rps * v->base_rt / 1000 + 0.5 * gauss()) : 0;
        s.busy = busy < 0 ? 0 : busy > v->total ? v->total : (unsigned) busy;
        return s;
}

/* $STORE_MAX_SIZE: "default" (or unset) or a size with K, M, G or T (powers of 1000). */
static uint64_t max_bytes(void) {
        const char *s = getenv("STORE_MAX_SIZE");
        char *end;
        if (!s || strcmp(s, "default") == 0)
                return 0;
        double v = strtod(s, &end);
        const char *units = "KMGT";
        const char *u = *end ? strchr(units, *end) : NULL;
        return (uint64_t) (v * (u ? pow(1000, (double) (u - units + 1)) : 1));
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static off_t file_size(const char *dir, const char *name) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return stat(path, &st) == 0 ? st.st_size : 0;
}

static int realtime(const char *dir, size_t n, int seconds, const char *profile) {
        Vassal *v = fleet_new(n, profile);
        StoreSample *s = calloc(n, sizeof(StoreSample));
        double *ticks = calloc((size_t) seconds, sizeof(double));
        StoreOptions o = { .state_dir = dir, .max_bytes = max_bytes() };
        Store *store;
        double gen = 0;

        if (!v || !s || !ticks || store_new(&o, &store) < 0)
                return 1;
        double start = now_s(CLOCK_MONOTONIC), cpu0 = cpu_s();
        for (int t = 0; t < seconds; t++) {
                double due = start + t + 1;
                struct timespec ts;
                double left = due - now_s(CLOCK_MONOTONIC);
                if (left > 0) {
                        ts.tv_sec = (time_t) left;
                        ts.tv_nsec = (long) ((left - floor(left)) * 1e9);
                        nanosleep(&ts, NULL);
                }
                double g0 = cpu_s();
                for (size_t k = 0; k < n; k++)
                        s[k] = report(&v[k], (pid_t) (1000 + k), 1);
                gen += cpu_s() - g0;
                double t0 = now_s(CLOCK_MONOTONIC);
                int r = store_tick(store, s, n);
                ticks[t] = (now_s(CLOCK_MONOTONIC) - t0) * 1000;
                if (r < 0) {
                        fprintf(stderr, "store_tick: %s\n", strerror(-r));
                        return 1;
                }
        }
        double wall = now_s(CLOCK_MONOTONIC) - start, cpu = cpu_s() - cpu0 - gen;
        store_free(store);
        qsort(ticks, (size_t) seconds, sizeof(double), cmp_double);
        printf("realtime vassals=%zu seconds=%d profile=%s store_cpu_pct=%.2f tick_p50_ms=%.2f "
               "tick_p99_ms=%.2f tick_max_ms=%.2f db_bytes=%lld\n",
               n, seconds, profile, 100 * cpu / wall, ticks[seconds / 2],
               ticks[(size_t) (seconds * 0.99)], ticks[seconds - 1],
               (long long) (file_size(dir, "stats.db") + file_size(dir, "stats.db-wal")));
        free(v);
        free(s);
        free(ticks);
        return 0;
}

static int simulate(const char *dir, size_t n, int days, const char *profile) {
        Vassal *v = fleet_new(n, profile);
        StoreSample *s = calloc(n, sizeof(StoreSample));
        StoreOptions o = { .state_dir = dir, .now = fake_now, .max_bytes = max_bytes() };
        Store *store;
        double t0 = now_s(CLOCK_MONOTONIC);

        /* History up to now, so `emperorctl stats --since 30d` reads it as it is. */
        fake_ms = ((uint64_t) time(NULL) - (uint64_t) days * 86400) * 1000;
        if (!v || !s || store_new(&o, &store) < 0)
                return 1;
        uint64_t end = fake_ms + (uint64_t) days * 86400000ULL;
        while (fake_ms < end) {
                bool last_day = end - fake_ms <= 86400000ULL;
                double dt = last_day ? 1 : 60;
                for (size_t k = 0; k < n; k++)
                        s[k] = report(&v[k], (pid_t) (1000 + k), dt);
                int r = store_tick(store, s, n);
                if (r < 0) {
                        fprintf(stderr, "store_tick: %s\n", strerror(-r));
                        return 1;
                }
                /* The background steps the emperor's other ticks of the minute would run. */
                for (int k = 1; k < (int) dt && store_idle(store); k++)
                        ;
                fake_ms += (uint64_t) dt * 1000;
        }
        /* The minute's passes run between ticks: a few more idle ticks let them finish. */
        for (int k = 0; k < 20; k++) {
                for (size_t j = 0; j < n; j++)
                        s[j] = report(&v[j], (pid_t) (1000 + j), 1);
                (void) store_tick(store, s, n);
                fake_ms += 1000;
        }
        store_free(store);
        printf("simulate vassals=%zu days=%d profile=%s db_bytes=%lld seconds=%.0f\n", n, days,
               profile, (long long) (file_size(dir, "stats.db") + file_size(dir, "stats.db-wal")),
               now_s(CLOCK_MONOTONIC) - t0);
        free(v);
        free(s);
        return 0;
}

int main(int argc, char **argv) {
        if (argc != 6) {
                fprintf(stderr, "usage: %s realtime|simulate DIR VASSALS SECONDS|DAYS idle|mixed|busy\n",
                        argv[0]);
                return 2;
        }
        size_t n = strtoul(argv[3], NULL, 10);
        int count = atoi(argv[4]);
        if (n == 0 || count <= 0)
                return 2;
        if (strcmp(argv[1], "realtime") == 0)
                return realtime(argv[2], n, count, argv[5]);
        if (strcmp(argv[1], "simulate") == 0)
                return simulate(argv[2], n, count, argv[5]);
        return 2;
}
