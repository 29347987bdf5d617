/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "metrics.h"

/* Label values are quoted strings: backslash, quote and newline escaped. */
static void label(Buf *b, const char *v) {
        for (const char *c = v; *c; c++) {
                if (*c == '\\' || *c == '"')
                        buf_printf(b, "\\%c", *c);
                else if (*c == '\n')
                        buf_puts(b, "\\n");
                else
                        buf_put(b, c, 1);
        }
}

/* A sample value, or an le label: the shortest decimal that reads back as the same double
 * (%.17g always round-trips but prints 0.1 as 0.10000000000000001; %g's 6 digits lose
 * precision on counters past a million). The first precision from 1 up whose output strtod
 * reads back exactly is the shortest %g form: at most 17 tries of a ~30-byte snprintf, a few
 * dozen values per vassal. Infinities and NaN as Prometheus spells them. */
static void number(Buf *b, double x) {
        char text[32];

        if (isnan(x)) {
                buf_puts(b, "NaN");
                return;
        }
        if (isinf(x)) {
                buf_puts(b, x > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int digits = 1; digits <= 17; digits++) {
                snprintf(text, sizeof(text), "%.*g", digits, x);
                if (strtod(text, NULL) == x)
                        break;
        }
        buf_puts(b, text);
}

typedef enum Kind {
        NUMBER,    /* the field's value; null: 0 */
        NUMBER_OR_NONE, /* the field's value; null: no sample (not measured, not a false 0) */
        UP,        /* 1 when running or reloading */
        SCALED_MS, /* milliseconds → seconds */
} Kind;

typedef struct Metric {
        const char *name;
        const char *type;
        const char *help;
        const char *field;
        const char *sub; /* field.sub, or NULL */
        Kind kind;
} Metric;

static const Metric vassal_metrics[] = {
        { "emperor_vassal_up", "gauge", "1 when the vassal is running and ready", "state", NULL,
          UP },
        { "emperor_vassal_restarts_total", "counter", "unasked restarts of the vassal",
          "restarts", NULL, NUMBER },
        { "emperor_vassal_requests_total", "counter",
          "requests served by the current vassal process", "requests", NULL, NUMBER },
        { "emperor_vassal_exceptions_total", "counter", "exceptions raised by the app",
          "exceptions", NULL, NUMBER },
        { "emperor_vassal_errors_total", "counter",
          "requests answered with a 5xx status or whose app raised", "errors", NULL, NUMBER },
        { "emperor_vassal_workers", "gauge", "worker processes", "workers", "total", NUMBER },
        { "emperor_vassal_workers_busy", "gauge", "workers serving a request", "workers", "busy",
          NUMBER },
        { "emperor_vassal_rss_bytes", "gauge", "resident memory of the workers", "rss", NULL,
          NUMBER },
        /* Was emperor_vassal_response_seconds: that is the histogram's name now. */
        { "emperor_vassal_avg_response_seconds", "gauge",
          "average response time of the workers (their last requests)", "avg_rt_ms", NULL,
          SCALED_MS },
        { "emperor_vassal_listen_queue", "gauge", "connections waiting in the listen queue",
          "listen_queue", NULL, NUMBER },
        { "emperor_vassal_uptime_seconds", "gauge",
          "seconds since the current vassal process started", "uptime", NULL, NUMBER },
        { "emperor_vassal_cpu_seconds_total", "counter",
          "CPU time of the current vassal process and its workers", "cpu_time", NULL,
          NUMBER_OR_NONE },
};

/* The states the emperor knows (emperor/instance.c), each counted even at 0. */
static const char *const states[] = {
        "starting", "running", "reloading", "stopping", "stopped", "crash-loop", "config-error",
};

static const char *vassal_name(const cJSON *v) {
        return strempty(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name")));
}

static void sample_start(Buf *b, const char *name, const char *suffix, const cJSON *v) {
        buf_printf(b, "%s%s{vassal=\"", name, suffix);
        label(b, vassal_name(v));
}

static void metrics_vassal(Buf *b, const Metric *k, const cJSON *v) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, k->field);
        double x = 0;

        if (k->sub)
                f = cJSON_GetObjectItemCaseSensitive(f, k->sub);
        switch (k->kind) {
        case UP: {
                const char *s = strempty(cJSON_GetStringValue(f));
                x = streq(s, "running") || streq(s, "reloading");
                break;
        }
        case NUMBER_OR_NONE:
                if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble))
                        return;
                x = f->valuedouble;
                break;
        case NUMBER:
        case SCALED_MS:
                x = cJSON_IsNumber(f) && isfinite(f->valuedouble) ? f->valuedouble : 0;
                if (k->kind == SCALED_MS)
                        x /= 1000;
                break;
        }
        sample_start(b, k->name, "", v);
        buf_puts(b, "\"} ");
        number(b, x);
        buf_puts(b, "\n");
}

static double number_at(const cJSON *array, int i) {
        const cJSON *n = cJSON_GetArrayItem(array, i);
        return cJSON_IsNumber(n) ? n->valuedouble : NAN;
}

/* emperor_vassal_response_seconds, a histogram, from the vassal's rt_hist (µs, cumulative
 * counts, as it sent them). What a vassal sends is checked, not trusted: bounds that do not
 * increase are skipped and counts never go down, so the output stays a valid histogram
 * whatever came in. No rt_hist (an older vassal, none received yet): no samples. */
static void metrics_histogram(Buf *b, const cJSON *v) {
        const char *name = "emperor_vassal_response_seconds";
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "rt_hist");
        const cJSON *le = cJSON_GetObjectItemCaseSensitive(h, "le_us");
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(h, "counts");
        double last_le = -1, cum = 0;
        int n = cJSON_GetArraySize(le);

        if (!cJSON_IsArray(le) || !cJSON_IsArray(counts) || n == 0 ||
            n != cJSON_GetArraySize(counts))
                return;
        for (int k = 0; k < n; k++) {
                double l = number_at(le, k), c = number_at(counts, k);
                if (isnan(l) || isnan(c) || !(l > last_le))
                        continue;
                last_le = l;
                cum = MAX(cum, c);
                sample_start(b, name, "_bucket", v);
                buf_puts(b, "\",le=\"");
                number(b, l / 1e6);
                buf_puts(b, "\"} ");
                number(b, cum);
                buf_puts(b, "\n");
        }
        const cJSON *jc = cJSON_GetObjectItemCaseSensitive(h, "count");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(h, "sum_us");
        double count = MAX(cum, cJSON_IsNumber(jc) ? jc->valuedouble : 0);
        double sum = cJSON_IsNumber(js) ? js->valuedouble : 0;
        sample_start(b, name, "_bucket", v);
        buf_puts(b, "\",le=\"+Inf\"} ");
        number(b, count);
        buf_puts(b, "\n");
        sample_start(b, name, "_sum", v);
        buf_puts(b, "\"} ");
        number(b, MAX(sum, 0.0) / 1e6);
        buf_puts(b, "\n");
        sample_start(b, name, "_count", v);
        buf_puts(b, "\"} ");
        number(b, count);
        buf_puts(b, "\n");
}

/* The emperor's resident bytes and seconds since it started, from /proc/PID/statm and stat
 * (readable by anyone: emperor-web runs unprivileged). */
static void emperor_self(pid_t pid, double *ret_rss, double *ret_uptime) {
        char path[64], buf[1024];
        long size_pages, rss_pages;
        FILE *f;

        *ret_rss = *ret_uptime = 0;
        snprintf(path, sizeof(path), "/proc/%d/statm", (int) pid);
        f = fopen(path, "re");
        if (f) {
                if (fscanf(f, "%ld %ld", &size_pages, &rss_pages) == 2)
                        *ret_rss = (double) rss_pages * (double) sysconf(_SC_PAGESIZE);
                fclose(f);
        }
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        /* pid (comm) state ppid ...: field 22 is the start time in clock ticks after boot; comm
         * may hold spaces and parentheses. */
        char *p = strrchr(buf, ')');
        if (!p)
                return;
        unsigned long long start = 0;
        int field = 2;
        for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
                if (++field == 22) {
                        start = strtoull(tok, NULL, 10);
                        break;
                }
        struct timespec ts;
        if (start == 0 || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return;
        double boot = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
        *ret_uptime = MAX(0.0, boot - (double) start / (double) sysconf(_SC_CLK_TCK));
}

void metrics_render(Buf *b, const cJSON *vassals, pid_t emperor_pid) {
        const cJSON *v;

        for (size_t k = 0; k < ELEMENTSOF(vassal_metrics); k++) {
                const Metric *m = &vassal_metrics[k];
                buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
                cJSON_ArrayForEach(v, vassals)
                        metrics_vassal(b, m, v);
        }
        buf_puts(b, "# HELP emperor_vassal_response_seconds response times of the current "
                    "vassal process's requests\n"
                    "# TYPE emperor_vassal_response_seconds histogram\n");
        cJSON_ArrayForEach(v, vassals)
                metrics_histogram(b, v);
        buf_puts(b, "# HELP emperor_vassals vassals by state\n# TYPE emperor_vassals gauge\n");
        for (size_t s = 0; s < ELEMENTSOF(states); s++) {
                unsigned n = 0;
                cJSON_ArrayForEach(v, vassals)
                        n += streq_ptr(cJSON_GetStringValue(
                                               cJSON_GetObjectItemCaseSensitive(v, "state")),
                                       states[s]);
                buf_printf(b, "emperor_vassals{state=\"%s\"} %u\n", states[s], n);
        }
        double rss, uptime;
        emperor_self(emperor_pid, &rss, &uptime);
        buf_printf(b, "# HELP emperor_resident_memory_bytes the emperor's own resident memory\n"
                      "# TYPE emperor_resident_memory_bytes gauge\n"
                      "emperor_resident_memory_bytes %.0f\n", rss);
        buf_printf(b, "# HELP emperor_uptime_seconds seconds since the emperor started\n"
                      "# TYPE emperor_uptime_seconds gauge\n"
                      "emperor_uptime_seconds %.3f\n", uptime);
}
