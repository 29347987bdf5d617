/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "guard.h"
#include "log.h"
#include "logger.h"
#include "macro.h"
#include "response.h"
#include "static.h"
#include "wsgi.h"

int64_t conn_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t conn_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t conn_wait_left(const VassalConfig *cfg, const ConnClock *c, bool stopping, int64_t now) {
        int64_t limit = (c->partial ? cfg->socket_timeout : cfg->keepalive_timeout) * 1000;
        if (!c->partial && stopping)
                limit = CONN_STOP_IDLE_MS;
        int64_t left = c->last_active + limit - now;

        if (c->body_since > 0) {
                if (cfg->body_min_rate > 0) {
                        int64_t allowed = cfg->body_timeout * 1000 +
                                          (int64_t) (c->body_got * 1000 / cfg->body_min_rate);
                        left = MIN(left, c->body_since + allowed - now);
                }
        } else if (c->partial)
                left = MIN(left, c->head_since + cfg->header_timeout * 1000 - now);
        return left;
}

void conn_format_addr(const struct sockaddr_storage *sa, char *addr, size_t addr_size, char *port,
                      size_t port_size) {
        addr[0] = port[0] = 0;
        if (sa->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const void *) sa;
                inet_ntop(AF_INET, &in->sin_addr, addr, addr_size);
                snprintf(port, port_size, "%u", ntohs(in->sin_port));
        } else if (sa->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const void *) sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, addr, addr_size);
                snprintf(port, port_size, "%u", ntohs(in6->sin6_port));
        }
}

int conn_parse_head(Request *r, int fd, SocketProto proto, ConnBuffer *in, const ConnInfo *info,
                    const VassalConfig *cfg, int timeout_ms, ConnParser *p) {
        const char *data = in->data + in->start;
        size_t avail = in->end - in->start;
        int k;

        request_reset(r, fd, proto, in, timeout_ms);
        r->limit_post = cfg->limit_post;

        if (proto == SOCKET_HTTP) {
                k = http_request_parse(data, avail, &p->http);
                if (k == 0) {
                        if (avail < in->size)
                                return 0;
                        log_warning("request head from %s larger than buffer-size %zu: 431",
                                    info->remote_addr, in->size);
                        response_error(r, 431);
                        return -1;
                }
                if (k < 0) {
                        log_info("bad request from %s: %s (%d)", info->remote_addr,
                                 strempty(p->http.error), -k);
                        response_error(r, -k);
                        return -1;
                }
                in->start += k;
                k = request_from_http(r, &p->http, info, p->scratch, p->scratch_size);
        } else {
                if (avail >= UWSGI_HEADER_SIZE) {
                        size_t need = UWSGI_HEADER_SIZE + ((unsigned char) data[1] |
                                                           (unsigned char) data[2] << 8);
                        if (need > in->size) {
                                log_warning("uwsgi packet of %zu bytes from %s is larger than "
                                            "buffer-size %zu: raise buffer-size",
                                            need, info->remote_addr, in->size);
                                response_error(r, 431);
                                return -1;
                        }
                }
                k = uwsgi_packet_parse(data, avail, &p->uwsgi);
                if (k == 0)
                        return 0;
                if (k < 0) {
                        log_info("bad uwsgi packet from %s: %s", info->remote_addr,
                                 strerror(-k));
                        response_error(r, 400);
                        return -1;
                }
                in->start += k;
                k = request_from_uwsgi(r, &p->uwsgi, info);
        }
        if (k < 0) {
                response_error(r, -k);
                return -1;
        }
        r->body_timeout_ms = cfg->body_timeout * 1000;
        r->body_min_rate = cfg->body_min_rate;
        return 1;
}

void conn_keep_names(Request *r, char *method, size_t method_size, char *uri, size_t uri_size) {
        size_t ml = MIN(r->method_len, method_size);
        size_t ul = MIN(r->uri_len, uri_size);
        memcpy(method, r->method, ml);
        memcpy(uri, r->uri, ul);
        r->method = method;
        r->method_len = ml;
        r->uri = uri;
        r->uri_len = ul;
}

/* uWSGI's rule: everything is logged, unless disable-logging; then only what log-4xx, log-5xx,
 * log-slow, log-zero or log-big ask for. */
static bool conn_log_wanted(const VassalConfig *cfg, const Request *r, int64_t us) {
        if (!cfg->disable_logging)
                return true;
        int s = r->status;
        return (cfg->log_4xx && s >= 400 && s < 500) || (cfg->log_5xx && s >= 500 && s < 600) ||
               (cfg->log_slow > 0 && us / 1000 > cfg->log_slow) ||
               (cfg->log_zero && r->bytes_sent == 0) ||
               (cfg->log_big > 0 && r->bytes_sent >= cfg->log_big);
}

/* "req: N/M"'s M: every worker's requests, from the scoreboard (a few relaxed loads). */
static uint64_t total_requests(Scoreboard *sb) {
        uint64_t n = 0;
        size_t k = sb ? scoreboard_size(sb) : 0;
        for (size_t i = 1; i <= k; i++)
                n += atomic_load_explicit(&scoreboard_slot(sb, i)->requests, memory_order_relaxed);
        return n;
}

void conn_log_request(const ConnLogCtx *ctx, uint64_t nreq, const Request *r, int64_t us,
                      ConnLogDate *date) {
        const VassalConfig *cfg = ctx->cfg;
        char line[1 + 256 + LOGFORMAT_LINE_MAX];
        size_t n = 0;
        struct timespec ts;

        if (!conn_log_wanted(cfg, r, us))
                return;
        /* The master tells request lines from the rest by this mark: req-logger sends them
         * to their own file, log-date dates only the rest (logger.c). */
        if (cfg->req_logger || cfg->log_date)
                line[n++] = LOGGER_REQ_MARK;
        /* memory-report: uWSGI's "{address space usage: ...} {rss usage: ...} " first, on its
         * default line. */
        if (ctx->statm_fd >= 0 && !cfg->logformat) {
                guard_memory_report(ctx->statm_fd, line + n, 256);
                n += strlen(line + n);
        }
        LogRequest q = {
                .r = r,
                .pid = ctx->pid,
                .worker_id = ctx->worker_id,
                .core = ctx->core,
                .worker_requests = nreq,
                .total_requests = total_requests(ctx->scoreboard),
                .elapsed_us = us,
        };
        clock_gettime(CLOCK_REALTIME, &ts);
        q.end_realtime_us = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        if (ctx->statm_fd >= 0 && logformat_needs_memory(cfg->log_format))
                (void) guard_read_statm(ctx->statm_fd, &q.vsz, &q.rss);
        n += logformat_render(cfg->log_format, &q, date, line + n);
        /* One write(), under PIPE_BUF: lines from every worker and thread stay whole. */
        (void) !write(STDERR_FILENO, line, n);
}

int64_t conn_serve_request(const VassalConfig *cfg, ScoreboardSlot *slot, ScoreboardCore *core,
                           WsgiThread *wt, Request *r, char *method, size_t method_size,
                           char *uri, size_t uri_size, bool *ret_raised) {
        int64_t start = conn_now_us();
        bool exception = false;

        scoreboard_request_begin(slot, start);
        conn_keep_names(r, method, method_size, uri, uri_size);
        scoreboard_core_begin(core, start, r->method, r->method_len, r->uri, r->uri_len);
        /* A mapped static file is answered here, in C, without the GIL (static.c). With
         * post-buffering the body is read before the app runs: in a greenlet it holds only
         * this connection, in threads mode the reader is bounded by the body deadlines. */
        int k = 0;
        if (static_serve(cfg->statics, r)) {
                if (r->keep_alive && request_drain_body(r) < 0)
                        r->keep_alive = false;
        } else if (cfg->post_buffering > 0 &&
                   (k = request_buffer_body(r, cfg->post_buffering)) < 0)
                response_error(r, k == -EFBIG ? 413 : k == -ETIMEDOUT ? 408 : 400);
        else {
                (void) wsgi_handle(wt, r, &exception);
                if (r->keep_alive && request_drain_body(r) < 0)
                        r->keep_alive = false;
        }
        int64_t elapsed = conn_now_us() - start;
        scoreboard_request_end(slot, (uint64_t) elapsed, r->bytes_sent, exception, r->status);
        scoreboard_core_end(core);
        *ret_raised = exception;
        return elapsed;
}

bool conn_recycle_due(const VassalConfig *cfg, ScoreboardSlot *slot, uint64_t n, uint64_t max,
                      bool raised, char *why, size_t why_size) {
        if (raised && cfg->reload_on_exception)
                (void) snprintf(why, why_size, "reload-on-exception");
        else if (max > 0 && n == max)
                (void) snprintf(why, why_size, "max-requests reached: %llu",
                                (unsigned long long) n);
        else
                return false;
        (void) snprintf(slot->exit_reason, sizeof(slot->exit_reason), "%s", why);
        return true;
}
