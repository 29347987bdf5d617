/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "http.h"
#include "instance.h"
#include "status.h"
#include "jsonutil.h"
#include "log.h"
#include "manager.h"
#include "sockutil.h"
#include "web.h"
#include "webapi.h"

#define WEB_MAX_CLIENTS 64
#define WEB_REQUEST_MAX 8192
#define WEB_TIMEOUT_USEC (10 * 1000000ULL)

typedef struct WebClient WebClient;
struct WebClient {
        Web *web;
        WebClient *next;
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        char in[WEB_REQUEST_MAX];
        size_t in_len;
        char *out;
        size_t out_len, out_off;
};

struct Web {
        Manager *m;
        int fd;
        char *address;
        Acceptor *acceptor; /* at most WEB_MAX_CLIENTS at once */
        WebClient *clients;
        uint64_t started; /* CLOCK_MONOTONIC µs */
        WebApi *api;      /* /api/.../history and events, from the store */
};

/* A growing text buffer for responses. */
typedef struct Buf {
        char *data;
        size_t len, size;
        bool oom;
} Buf;

static void buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
static void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        if (b->oom)
                return;
        for (;;) {
                va_start(ap, fmt);
                int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->size - b->len : 0,
                                  fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->oom = true;
                        return;
                }
                if (b->data && b->len + n < b->size) {
                        b->len += n;
                        return;
                }
                size_t want = MAX(b->size * 2, b->len + n + 4096);
                char *d = realloc(b->data, want);
                if (!d) {
                        b->oom = true;
                        return;
                }
                b->data = d;
                b->size = want;
        }
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- /metrics: Prometheus text format 0.0.4 ---- */

/* Label values are quoted strings: backslash, quote and newline escaped. */
static void label(Buf *b, const char *v) {
        for (const char *c = v; *c; c++) {
                if (*c == '\\' || *c == '"')
                        buf_printf(b, "\\%c", *c);
                else if (*c == '\n')
                        buf_printf(b, "\\n");
                else
                        buf_printf(b, "%c", *c);
        }
}

typedef struct Metric {
        const char *name;
        const char *type;
        const char *help;
} Metric;

/* One sample per vassal each (or none, when the vassal does not report it). */
typedef enum VassalMetric {
        VASSAL_UP,
        VASSAL_RESTARTS,
        VASSAL_REQUESTS,
        VASSAL_EXCEPTIONS,
        VASSAL_ERRORS,
        VASSAL_WORKERS,
        VASSAL_WORKERS_BUSY,
        VASSAL_RSS,
        VASSAL_AVG_RESPONSE,
        VASSAL_LISTEN_QUEUE,
        VASSAL_UPTIME,
        VASSAL_CPU,
        _VASSAL_METRIC_MAX,
} VassalMetric;

static const Metric vassal_metrics[_VASSAL_METRIC_MAX] = {
        [VASSAL_UP] = { "emperor_vassal_up", "gauge", "1 when the vassal is running and ready" },
        [VASSAL_RESTARTS] = { "emperor_vassal_restarts_total", "counter",
                              "unasked restarts of the vassal" },
        [VASSAL_REQUESTS] = { "emperor_vassal_requests_total", "counter",
                              "requests served by the current vassal process" },
        [VASSAL_EXCEPTIONS] = { "emperor_vassal_exceptions_total", "counter",
                                "exceptions raised by the app" },
        [VASSAL_ERRORS] = { "emperor_vassal_errors_total", "counter",
                            "requests answered with a 5xx status or whose app raised" },
        [VASSAL_WORKERS] = { "emperor_vassal_workers", "gauge", "worker processes" },
        [VASSAL_WORKERS_BUSY] = { "emperor_vassal_workers_busy", "gauge",
                                  "workers serving a request" },
        [VASSAL_RSS] = { "emperor_vassal_rss_bytes", "gauge", "resident memory of the workers" },
        /* Was emperor_vassal_response_seconds: that is the histogram's name now. */
        [VASSAL_AVG_RESPONSE] = { "emperor_vassal_avg_response_seconds", "gauge",
                                  "average response time of the workers (their last requests)" },
        [VASSAL_LISTEN_QUEUE] = { "emperor_vassal_listen_queue", "gauge",
                                  "connections waiting in the listen queue" },
        [VASSAL_UPTIME] = { "emperor_vassal_uptime_seconds", "gauge",
                            "seconds since the current vassal process started" },
        [VASSAL_CPU] = { "emperor_vassal_cpu_seconds_total", "counter",
                         "CPU time of the current vassal process and its workers" },
};

/* 'name+suffix{vassal="NAME' of vassal i: the caller ends the labels and adds the value. */
static void sample_start(Buf *b, const char *name, const char *suffix, const Instance *i) {
        buf_printf(b, "%s%s{vassal=\"", name, suffix);
        label(b, instance_name(i));
}

/* Metric k of vassal i: its sample line, or none when the vassal does not report it. */
static void metrics_vassal(Buf *b, VassalMetric k, const Instance *i) {
        const VassalStats *vs = instance_stats(i);
        double v = 0;

        switch (k) {
        case VASSAL_UP:
                v = instance_state(i) == STATE_RUNNING || instance_state(i) == STATE_RELOADING;
                break;
        case VASSAL_RESTARTS:
                v = instance_restarts(i);
                break;
        case VASSAL_REQUESTS:
                v = vs ? (double) vs->requests : 0;
                break;
        case VASSAL_EXCEPTIONS:
                v = vs ? (double) vs->exceptions : 0;
                break;
        case VASSAL_ERRORS:
                v = vs ? (double) vs->errors : 0;
                break;
        case VASSAL_WORKERS:
                v = vs ? vs->total : 0;
                break;
        case VASSAL_WORKERS_BUSY:
                v = vs ? vs->busy : 0;
                break;
        case VASSAL_RSS:
                v = vs ? (double) vs->rss : 0;
                break;
        case VASSAL_AVG_RESPONSE:
                v = vs ? vs->avg_rt_ms / 1000 : 0;
                break;
        case VASSAL_LISTEN_QUEUE:
                v = vs ? (double) vs->listen_queue : 0;
                break;
        case VASSAL_UPTIME:
                v = instance_uptime(i);
                if (isnan(v))
                        v = 0;
                break;
        case VASSAL_CPU:
                /* Not measured yet, or an older vassal: no sample rather than a false 0. */
                if (!vs || isnan(vs->cpu_time_s))
                        return;
                v = vs->cpu_time_s;
                break;
        case _VASSAL_METRIC_MAX:
                return;
        }
        sample_start(b, vassal_metrics[k].name, "", i);
        buf_printf(b, "\"} %.17g\n", v);
}

/* emperor_vassal_response_seconds, a histogram, from the vassal's "rt_hist" (µs, cumulative
 * counts: vassal/scoreboard.h). What a vassal sends is checked, not trusted: bounds that do
 * not increase are skipped and counts never go down, so the output stays a valid histogram
 * whatever came in. No rt_hist (an older vassal, none received yet): no samples. */
static void metrics_histogram(Buf *b, const Instance *i) {
        const char *name = "emperor_vassal_response_seconds";
        const VassalStats *vs = instance_stats(i);
        double last_le = -1, cum = 0;

        if (!vs || vs->n_hist == 0)
                return;
        for (size_t k = 0; k < vs->n_hist; k++) {
                double le = vs->hist_le_us[k], c = vs->hist_counts[k];
                if (isnan(le) || isnan(c) || !(le > last_le))
                        continue;
                last_le = le;
                cum = MAX(cum, c);
                sample_start(b, name, "_bucket", i);
                buf_printf(b, "\",le=\"%.9g\"} %.17g\n", le / 1e6, cum);
        }
        double count = MAX(cum, vs->hist_count);
        sample_start(b, name, "_bucket", i);
        buf_printf(b, "\",le=\"+Inf\"} %.17g\n", count);
        sample_start(b, name, "_sum", i);
        buf_printf(b, "\"} %.17g\n", MAX(vs->hist_sum_us, 0.0) / 1e6);
        sample_start(b, name, "_count", i);
        buf_printf(b, "\"} %.17g\n", count);
}

static void metrics(Web *w, Buf *b) {
        Manager *m = w->m;
        unsigned counts[_STATE_MAX] = {};

        for (VassalMetric k = 0; k < _VASSAL_METRIC_MAX; k++) {
                buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", vassal_metrics[k].name,
                           vassal_metrics[k].help, vassal_metrics[k].name, vassal_metrics[k].type);
                for (Instance *i = manager_first(m); i; i = manager_next(m, i))
                        metrics_vassal(b, k, i);
        }
        buf_printf(b, "# HELP emperor_vassal_response_seconds response times of the current "
                      "vassal process's requests\n"
                      "# TYPE emperor_vassal_response_seconds histogram\n");
        for (Instance *i = manager_first(m); i; i = manager_next(m, i))
                metrics_histogram(b, i);
        for (Instance *i = manager_first(m); i; i = manager_next(m, i))
                counts[instance_state(i)]++;
        buf_printf(b, "# HELP emperor_vassals vassals by state\n# TYPE emperor_vassals gauge\n");
        for (int s = 0; s < _STATE_MAX; s++)
                buf_printf(b, "emperor_vassals{state=\"%s\"} %u\n", instance_state_to_string(s),
                           counts[s]);
        long rss_pages = 0;
        FILE *f = fopen("/proc/self/statm", "re");
        if (f) {
                long size_pages;
                if (fscanf(f, "%ld %ld", &size_pages, &rss_pages) != 2)
                        rss_pages = 0;
                fclose(f);
        }
        buf_printf(b, "# HELP emperor_resident_memory_bytes the emperor's own resident memory\n"
                      "# TYPE emperor_resident_memory_bytes gauge\n"
                      "emperor_resident_memory_bytes %ld\n",
                   rss_pages * sysconf(_SC_PAGESIZE));
        buf_printf(b, "# HELP emperor_uptime_seconds seconds since the emperor started\n"
                      "# TYPE emperor_uptime_seconds gauge\n"
                      "emperor_uptime_seconds %.3f\n",
                   (double) (now_usec() - w->started) / 1e6);
}

/* ---- requests ---- */

static void client_free(WebClient *c) {
        Web *w = c->web;
        for (WebClient **pp = &w->clients; *pp; pp = &(*pp)->next)
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        acceptor_client_gone(w->acceptor);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        free(c->out);
        free(c);
}

static void respond(WebClient *c, int status, const char *type, const char *body, size_t len,
                    bool head) {
        Buf b = {};
        buf_printf(&b,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                   status, http_status_reason(status), type, len);
        if (!head && !b.oom && len > 0) {
                size_t at = b.len;
                buf_printf(&b, "%*s", (int) len, "");
                if (!b.oom)
                        memcpy(b.data + at, body, len);
        }
        if (b.oom) {
                free(b.data);
                return;
        }
        c->out = b.data;
        c->out_len = b.len;
}

static void respond_json(WebClient *c, int status, cJSON *j, bool head) {
        _cleanup_free_ char *text = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!text) {
                respond(c, 500, "text/plain", "500 Internal Server Error\n", 26, head);
                return;
        }
        respond(c, status, "application/json", text, strlen(text), head);
}

static void route(WebClient *c, const HttpRequest *req) {
        Web *w = c->web;
        char path[512];
        bool head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
        bool get = head || (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0);

        if (req->path_len >= sizeof(path)) {
                respond(c, 414, "text/plain", "414 URI Too Long\n", 17, head);
                return;
        }
        size_t n = http_percent_decode(path, req->path, req->path_len);
        path[n] = 0;
        if (!get) {
                respond(c, 405, "text/plain", "405 Method Not Allowed\n", 23, head);
                return;
        }
        if (streq(path, "/metrics")) {
                Buf b = {};
                metrics(w, &b);
                if (b.oom)
                        respond(c, 500, "text/plain", "500 Internal Server Error\n", 26, head);
                else
                        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
                                head);
                free(b.data);
                return;
        }
        if (streq(path, "/api/vassals") || streq(path, "/api/vassals/")) {
                cJSON *r = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(r, "vassals");
                for (Instance *i = manager_first(w->m); i; i = manager_next(w->m, i))
                        cJSON_AddItemToArray(list, status_json(i, false));
                respond_json(c, 200, r, head);
                return;
        }
        int status;
        cJSON *body;
        if (w->api && webapi_route(w->api, path, req->query, req->query_len, &status, &body)) {
                if (body)
                        respond_json(c, status, body, head);
                else
                        respond(c, 500, "text/plain", "500 Internal Server Error\n", 26, head);
                return;
        }
        if (strncmp(path, "/api/vassals/", 13) == 0) {
                Instance *i = manager_find(w->m, path + 13);
                if (!i) {
                        cJSON *r = cJSON_CreateObject();
                        cJSON_AddStringToObject(r, "error", "no such vassal");
                        respond_json(c, 404, r, head);
                        return;
                }
                respond_json(c, 200, status_json(i, true), head);
                return;
        }
        respond(c, 404, "text/plain", "404 Not Found\n", 14, head);
}

static void client_flush(WebClient *c) {
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        c->out_off = c->out_len; /* the client is gone */
                        break;
                }
                c->out_off += n;
        }
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WebClient *c = userdata;
        (void) s;

        if (!c->out && (revents & EPOLLIN)) {
                ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        client_free(c);
                        return 0;
                }
                if (n > 0)
                        c->in_len += n;
                HttpRequest req;
                int k = http_request_parse(c->in, c->in_len, &req);
                if (k > 0)
                        route(c, &req);
                else if (k < 0)
                        respond(c, -k, "text/plain", "bad request\n", 12, false);
                else if (c->in_len == sizeof(c->in))
                        respond(c, 431, "text/plain", "request too large\n", 18, false);
                if (!c->out && k != 0) {
                        client_free(c);
                        return 0;
                }
        }
        if (c->out) {
                client_flush(c);
                if (c->out_off == c->out_len) {
                        client_free(c);
                        return 0;
                }
                (void) sd_event_source_set_io_events(c->io, EPOLLOUT);
        }
        return 0;
}

static int on_client_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        client_free(userdata);
        return 0;
}

static int on_accept(Acceptor *a, int cfd, void *userdata) {
        Web *w = userdata;
        WebClient *c = calloc(1, sizeof(WebClient));
        (void) a;

        if (!c)
                return -ENOMEM;
        c->web = w;
        c->fd = cfd;
        if (sd_event_add_io(manager_event(w->m), &c->io, cfd, EPOLLIN, on_client, c) < 0 ||
            sd_event_add_time_relative(manager_event(w->m), &c->timer, CLOCK_MONOTONIC, WEB_TIMEOUT_USEC,
                                       1000, on_client_timeout, c) < 0) {
                sd_event_source_disable_unref(c->io);
                free(c);
                return -ENOMEM;
        }
        c->next = w->clients;
        w->clients = c;
        return 0;
}

int web_new(Manager *m, const char *address, Web **ret) {
        _cleanup_free_ char *unix_path = NULL;
        Web *w;

        *ret = NULL;
        if (!address || !*address || streq(address, "none"))
                return 0;
        w = calloc(1, sizeof(Web));
        if (!w)
                return -ENOMEM;
        w->m = m;
        w->started = now_usec();
        w->address = strdup(address);
        _cleanup_free_ char *db = NULL;
        if (asprintf(&db, "%s/stats.db", manager_state_dir(m)) < 0)
                db = NULL;
        w->api = db ? webapi_new(db) : NULL;
        if (!w->address || !w->api) {
                web_free(w);
                return -ENOMEM;
        }
        w->fd = socket_listen(address, 64, -1, NULL, &unix_path);
        if (w->fd < 0) {
                /* The dashboard is a convenience: without it the fleet still runs. */
                log_warning_errno(w->fd, "Cannot listen on '%s' for /metrics and the API: %m, "
                                  "going on without", address);
                web_free(w);
                return 0;
        }
        int r = acceptor_new(manager_event(m), w->fd, &(AcceptorOptions) { .max_clients = WEB_MAX_CLIENTS },
                             on_accept, w, &w->acceptor);
        if (r < 0) {
                web_free(w);
                return log_error_errno(r, "web: %m");
        }
        log_info("metrics and API on http://%s/", address);
        *ret = w;
        return 0;
}

void web_free(Web *w) {
        if (!w)
                return;
        while (w->clients)
                client_free(w->clients);
        w->acceptor = acceptor_free(w->acceptor);
        safe_close(w->fd);
        webapi_free(w->api);
        free(w->address);
        free(w);
}
