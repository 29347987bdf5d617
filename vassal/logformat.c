/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logformat.h"
#include "macro.h"

typedef enum LogVar {
        LV_LITERAL,
        LV_LITERAL_STRFTIME, /* literal text through strftime(3) (logformat-strftime) */
        /* From the request's variables (LV_FIRST_CGI .. LV_LAST_CGI keep CGI_NAMES' order) */
        LV_ADDR,
        LV_USER,
        LV_HOST,
        LV_PROTO,
        LV_UAGENT,
        LV_REFERER,
        LV_CL,
        LV_VAR, /* var.NAME */
        LV_METHOD,
        LV_URI,
        LV_STATUS,
        LV_SIZE,
        LV_RSIZE,
        LV_HSIZE,
        LV_HEADERS,
        LV_MSECS,
        LV_MICROS,
        LV_SECS,
        LV_ELAPSED,
        LV_ELAPSED_UNIT,
        LV_TIME,
        LV_TMSECS,
        LV_TMICROS,
        LV_EPOCH,
        LV_CTIME,
        LV_LTIME,
        LV_FTIME,
        LV_PID,
        LV_WID,
        LV_CORE,
        LV_WREQ,
        LV_TREQ,
        LV_VARS,
        LV_PKTSIZE,
        LV_SWITCHES,
        LV_MODIFIER1,
        LV_MODIFIER2,
        LV_VSZ,
        LV_RSS,
        LV_VSZ_MB,
        LV_RSS_MB,
        LV_UNKNOWN, /* renders empty */
} LogVar;

/* The CGI variables the line may name, found in one pass over the request's variables. */
enum { CGI_ADDR, CGI_USER, CGI_HOST, CGI_PROTO, CGI_UAGENT, CGI_REFERER, CGI_CL, CGI_XFF,
       CGI_MAX };
static const struct {
        const char *name;
        size_t len;
} cgi_names[CGI_MAX] = {
        [CGI_ADDR] = { "REMOTE_ADDR", 11 },
        [CGI_USER] = { "REMOTE_USER", 11 },
        [CGI_HOST] = { "HTTP_HOST", 9 },
        [CGI_PROTO] = { "SERVER_PROTOCOL", 15 },
        [CGI_UAGENT] = { "HTTP_USER_AGENT", 15 },
        [CGI_REFERER] = { "HTTP_REFERER", 12 },
        [CGI_CL] = { "CONTENT_LENGTH", 14 },
        [CGI_XFF] = { "HTTP_X_FORWARDED_FOR", 20 },
};

static const struct {
        const char *name;
        LogVar var;
} var_names[] = {
        { "addr", LV_ADDR },
        { "user", LV_USER },
        { "host", LV_HOST },
        { "proto", LV_PROTO },
        { "uagent", LV_UAGENT },
        { "referer", LV_REFERER },
        { "cl", LV_CL },
        { "method", LV_METHOD },
        { "uri", LV_URI },
        { "status", LV_STATUS },
        { "size", LV_SIZE },
        { "rsize", LV_RSIZE },
        { "hsize", LV_HSIZE },
        { "headers", LV_HEADERS },
        { "msecs", LV_MSECS },
        { "micros", LV_MICROS },
        { "secs", LV_SECS },
        { "elapsed", LV_ELAPSED },
        { "elapsed_unit", LV_ELAPSED_UNIT },
        { "time", LV_TIME },
        { "tmsecs", LV_TMSECS },
        { "tmicros", LV_TMICROS },
        { "epoch", LV_EPOCH },
        { "ctime", LV_CTIME },
        { "ltime", LV_LTIME },
        { "ftime", LV_FTIME },
        { "pid", LV_PID },
        { "wid", LV_WID },
        { "core", LV_CORE },
        { "wreq", LV_WREQ },
        { "treq", LV_TREQ },
        { "vars", LV_VARS },
        { "pktsize", LV_PKTSIZE },
        { "switches", LV_SWITCHES },
        { "modifier1", LV_MODIFIER1 },
        { "modifier2", LV_MODIFIER2 },
        { "vsz", LV_VSZ },
        { "rss", LV_RSS },
        { "vszM", LV_VSZ_MB },
        { "rssM", LV_RSS_MB },
};

typedef struct Piece {
        LogVar var;
        const char *text; /* LV_LITERAL*: the text (NUL-terminated); LV_VAR: the name */
        size_t len;
} Piece;

struct LogFormat {
        Piece *pieces;
        size_t n_pieces;
        char *text; /* every literal and var.NAME, NUL-terminated each */
        LogFormatOptions o;
        char *date_format;
        unsigned cgi_mask; /* which cgi_names a render looks up */
        bool need_pktsize;
        bool need_clock;
        bool need_memory;
};

LogFormat *logformat_free(LogFormat *f) {
        if (!f)
                return NULL;
        free(f->pieces);
        free(f->text);
        free(f->date_format);
        return mfree(f);
}

static LogVar var_from_name(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(var_names); i++)
                if (strlen(var_names[i].name) == len && memcmp(var_names[i].name, name, len) == 0)
                        return var_names[i].var;
        if (len > 4 && memcmp(name, "var.", 4) == 0)
                return LV_VAR;
        return LV_UNKNOWN;
}

static unsigned var_cgi(LogVar v, bool xff) {
        switch (v) {
        case LV_ADDR:
                return 1u << CGI_ADDR | (xff ? 1u << CGI_XFF : 0);
        case LV_USER:
                return 1u << CGI_USER;
        case LV_HOST:
                return 1u << CGI_HOST;
        case LV_PROTO:
                return 1u << CGI_PROTO;
        case LV_UAGENT:
                return 1u << CGI_UAGENT;
        case LV_REFERER:
                return 1u << CGI_REFERER;
        case LV_CL:
                return 1u << CGI_CL;
        default:
                return 0;
        }
}

int logformat_compile(const char *fmt, const LogFormatOptions *o, LogFormat **ret, char *msg,
                      size_t msg_size) {
        _cleanup_(logformat_freep) LogFormat *f = calloc(1, sizeof(LogFormat));
        size_t len, n_max, at = 0;
        char *t;

        if (msg_size > 0)
                msg[0] = 0;
        if (!f)
                return -ENOMEM;
        fmt = fmt ?: LOGFORMAT_DEFAULT;
        f->o = *o;
        if (o->date_format && !(f->date_format = strdup(o->date_format)))
                return -ENOMEM;
        f->o.date_format = f->date_format;
        len = strlen(fmt);
        /* Each "%(" starts at most one variable and one literal before it; one literal after. */
        n_max = 1;
        for (const char *p = fmt; (p = strstr(p, "%(")); p += 2)
                n_max += 2;
        f->pieces = calloc(n_max, sizeof(Piece));
        /* Every byte once, plus a NUL after each piece. */
        f->text = malloc(len + n_max + 1);
        if (!f->pieces || !f->text)
                return -ENOMEM;
        t = f->text;

        const char *p = fmt, *lit = fmt;
        while (true) {
                const char *open = strstr(p, "%(");
                const char *lit_end = open ?: fmt + len;
                if (lit_end > lit) {
                        size_t n = (size_t) (lit_end - lit);
                        memcpy(t, lit, n);
                        t[n] = 0;
                        bool st = o->strftime && memchr(lit, '%', n);
                        f->pieces[f->n_pieces++] = (Piece) {
                                st ? LV_LITERAL_STRFTIME : LV_LITERAL, t, n };
                        f->need_clock |= st;
                        t += n + 1;
                }
                if (!open)
                        break;
                const char *name = open + 2, *close = strchr(name, ')');
                at = (size_t) (open - fmt);
                if (!close) {
                        (void) snprintf(msg, msg_size, "a ')' closing the '%%(' at offset %zu", at);
                        return -EINVAL;
                }
                size_t n = (size_t) (close - name);
                if (n == 0 || n > LOGFORMAT_NAME_MAX) {
                        (void) snprintf(msg, msg_size,
                                        "a variable name of 1 to %d characters in the '%%(' "
                                        "at offset %zu", LOGFORMAT_NAME_MAX, at);
                        return -EINVAL;
                }
                LogVar v = var_from_name(name, n);
                Piece *pc = &f->pieces[f->n_pieces++];
                *pc = (Piece) { v, NULL, 0 };
                if (v == LV_VAR) {
                        memcpy(t, name + 4, n - 4);
                        t[n - 4] = 0;
                        *pc = (Piece) { v, t, n - 4 };
                        t += n - 4 + 1;
                } else if (v == LV_UNKNOWN && msg_size > 0 && msg[0] == 0)
                        (void) snprintf(msg, msg_size,
                                        "unknown variable %%(%.*s) (uWSGI's app-defined "
                                        "logvars are not supported), it stays empty",
                                        (int) n, name);
                f->cgi_mask |= var_cgi(v, o->x_forwarded_for);
                f->need_pktsize |= v == LV_PKTSIZE;
                f->need_clock |= v == LV_CTIME || v == LV_LTIME || v == LV_FTIME;
                f->need_memory |= v == LV_VSZ || v == LV_RSS || v == LV_VSZ_MB ||
                                  v == LV_RSS_MB;
                p = lit = close + 1;
        }
        *ret = TAKE_PTR(f);
        return 0;
}

bool logformat_needs_memory(const LogFormat *f) {
        return f->need_memory;
}

/* ---- rendering: into a fixed buffer, cut at its end ---- */

typedef struct Out {
        char *p, *end;
} Out;

static inline void put(Out *o, const char *s, size_t n) {
        if (n == 0)
                return;
        size_t room = (size_t) (o->end - o->p);
        n = MIN(n, room);
        memcpy(o->p, s, n);
        o->p += n;
}

static inline void put_u64(Out *o, uint64_t v) {
        char b[20];
        size_t i = sizeof(b);
        do {
                b[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        put(o, b + i, sizeof(b) - i);
}

static inline void put_i64(Out *o, int64_t v) {
        if (v < 0) {
                put(o, "-", 1);
                put_u64(o, (uint64_t) 0 - (uint64_t) v);
        } else
                put_u64(o, (uint64_t) v);
}

/* The formats are the user's (log-date, logformat-strftime): not literals, by design. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static size_t strftime_user(char *s, size_t max, const char *fmt, const struct tm *tm) {
        return strftime(s, max, fmt, tm);
}
#pragma GCC diagnostic pop

static void clock_update(const LogFormat *f, LogClock *c, time_t sec) {
        if (c->valid && c->sec == sec)
                return;
        c->sec = sec;
        c->valid = true;
        if (!localtime_r(&sec, &c->tm)) {
                c->ctime[0] = c->ltime[0] = c->ftime[0] = 0;
                return;
        }
        /* ctime(3) without its newline. */
        if (strftime(c->ctime, sizeof(c->ctime), "%a %b %e %H:%M:%S %Y", &c->tm) == 0)
                c->ctime[0] = 0;
        if (strftime(c->ltime, sizeof(c->ltime), "%d/%b/%Y:%H:%M:%S %z", &c->tm) == 0)
                c->ltime[0] = 0;
        if (!f->o.date_format)
                memcpy(c->ftime, c->ctime, sizeof(c->ctime));
        else if (strftime_user(c->ftime, sizeof(c->ftime), f->o.date_format, &c->tm) == 0)
                c->ftime[0] = 0;
}

static const char *var_value(const Request *r, const char *key, size_t key_len, size_t *ret) {
        for (size_t i = 0; i < r->n_vars; i++) {
                const RequestVar *v = &r->vars[i];
                if (v->key_len == key_len && memcmp(v->key, key, key_len) == 0) {
                        *ret = v->value_len;
                        return v->value;
                }
        }
        *ret = 0;
        return NULL;
}

/* X-Forwarded-For's first address: the client, as the first proxy saw it. */
static bool xff_first(const char *s, size_t n, const char **ret, size_t *ret_len) {
        const char *comma = memchr(s, ',', n);
        size_t k = comma ? (size_t) (comma - s) : n;
        while (k > 0 && (*s == ' ' || *s == '\t')) {
                s++;
                k--;
        }
        while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
                k--;
        if (k == 0)
                return false;
        *ret = s;
        *ret_len = k;
        return true;
}

size_t logformat_render(const LogFormat *f, const LogRequest *q, LogClock *clock, char *buf) {
        const Request *r = q->r;
        const char *cgi[CGI_MAX] = {};
        size_t cgi_len[CGI_MAX] = {};
        uint64_t pktsize = 0;
        Out o = { buf, buf + LOGFORMAT_LINE_MAX - 1 };

        /* One pass over the variables for what the format names. */
        if (f->cgi_mask || f->need_pktsize)
                for (size_t i = 0; i < r->n_vars; i++) {
                        const RequestVar *v = &r->vars[i];
                        pktsize += 4 + v->key_len + v->value_len;
                        for (unsigned k = 0; k < CGI_MAX; k++)
                                if ((f->cgi_mask & (1u << k)) && !cgi[k] &&
                                    v->key_len == cgi_names[k].len &&
                                    memcmp(v->key, cgi_names[k].name, v->key_len) == 0) {
                                        cgi[k] = v->value;
                                        cgi_len[k] = v->value_len;
                                }
                }
        if (f->o.x_forwarded_for && cgi[CGI_XFF])
                (void) xff_first(cgi[CGI_XFF], cgi_len[CGI_XFF], &cgi[CGI_ADDR],
                                 &cgi_len[CGI_ADDR]);

        int64_t start_us = q->end_realtime_us - q->elapsed_us;
        if (f->need_clock)
                clock_update(f, clock, (time_t) (start_us / 1000000));
        uint64_t rsize = r->bytes_sent;
        uint64_t hsize = r->status_line_len > 0 ? r->status_line_len + r->headers_len + 2 : 0;

        for (size_t i = 0; i < f->n_pieces; i++) {
                const Piece *pc = &f->pieces[i];
                const char *s;
                size_t n;

                switch (pc->var) {
                case LV_LITERAL:
                        put(&o, pc->text, pc->len);
                        break;
                case LV_LITERAL_STRFTIME:
                        /* 0 is also an empty result: either way nothing is written. */
                        o.p += strftime_user(o.p, (size_t) (o.end - o.p) + 1, pc->text, &clock->tm);
                        o.p = MIN(o.p, o.end);
                        break;
                case LV_ADDR:
                        put(&o, cgi[CGI_ADDR], cgi_len[CGI_ADDR]);
                        break;
                case LV_USER:
                        put(&o, cgi[CGI_USER], cgi_len[CGI_USER]);
                        break;
                case LV_HOST:
                        put(&o, cgi[CGI_HOST], cgi_len[CGI_HOST]);
                        break;
                case LV_PROTO:
                        put(&o, cgi[CGI_PROTO], cgi_len[CGI_PROTO]);
                        break;
                case LV_UAGENT:
                        put(&o, cgi[CGI_UAGENT], cgi_len[CGI_UAGENT]);
                        break;
                case LV_REFERER:
                        put(&o, cgi[CGI_REFERER], cgi_len[CGI_REFERER]);
                        break;
                case LV_CL:
                        if (cgi[CGI_CL])
                                put(&o, cgi[CGI_CL], cgi_len[CGI_CL]);
                        else
                                put(&o, "0", 1);
                        break;
                case LV_VAR:
                        s = var_value(r, pc->text, pc->len, &n);
                        put(&o, s, n);
                        break;
                case LV_METHOD:
                        put(&o, r->method, r->method_len);
                        break;
                case LV_URI:
                        put(&o, r->uri, r->uri_len);
                        break;
                case LV_STATUS:
                        put_i64(&o, r->status);
                        break;
                case LV_SIZE:
                        put_u64(&o, rsize + hsize);
                        break;
                case LV_RSIZE:
                        put_u64(&o, rsize);
                        break;
                case LV_HSIZE:
                        put_u64(&o, hsize);
                        break;
                case LV_HEADERS: {
                        uint64_t k = 0;
                        for (const char *h = r->headers, *e = h ? h + r->headers_len : NULL;
                             h && (h = memchr(h, '\n', (size_t) (e - h))); h++)
                                k++;
                        put_u64(&o, k);
                        break;
                }
                case LV_MSECS:
                        put_i64(&o, q->elapsed_us / 1000);
                        break;
                case LV_MICROS:
                        put_i64(&o, q->elapsed_us);
                        break;
                case LV_SECS: {
                        char b[32];
                        int k = snprintf(b, sizeof(b), "%.4f", (double) q->elapsed_us / 1e6);
                        put(&o, b, (size_t) MAX(k, 0));
                        break;
                }
                case LV_ELAPSED:
                        put_i64(&o, f->o.micros ? q->elapsed_us : q->elapsed_us / 1000);
                        break;
                case LV_ELAPSED_UNIT:
                        if (f->o.micros)
                                put(&o, "micros", 6);
                        else
                                put(&o, "msecs", 5);
                        break;
                case LV_TIME:
                        put_i64(&o, start_us / 1000000);
                        break;
                case LV_TMSECS:
                        put_i64(&o, start_us / 1000);
                        break;
                case LV_TMICROS:
                        put_i64(&o, start_us);
                        break;
                case LV_EPOCH:
                        put_i64(&o, q->end_realtime_us / 1000000);
                        break;
                case LV_CTIME:
                        put(&o, clock->ctime, strlen(clock->ctime));
                        break;
                case LV_LTIME:
                        put(&o, clock->ltime, strlen(clock->ltime));
                        break;
                case LV_FTIME:
                        put(&o, clock->ftime, strlen(clock->ftime));
                        break;
                case LV_PID:
                        put_i64(&o, q->pid);
                        break;
                case LV_WID:
                        put_i64(&o, q->worker_id);
                        break;
                case LV_CORE:
                        put_i64(&o, q->core);
                        break;
                case LV_WREQ:
                        put_u64(&o, q->worker_requests);
                        break;
                case LV_TREQ:
                        put_u64(&o, q->total_requests);
                        break;
                case LV_VARS:
                        put_u64(&o, r->n_vars);
                        break;
                case LV_PKTSIZE:
                        put_u64(&o, pktsize);
                        break;
                case LV_SWITCHES:
                        /* A request runs on one thread or greenlet; we count no switches. */
                        put(&o, "1", 1);
                        break;
                case LV_MODIFIER1:
                case LV_MODIFIER2:
                        put(&o, "0", 1);
                        break;
                case LV_VSZ:
                        put_u64(&o, q->vsz);
                        break;
                case LV_RSS:
                        put_u64(&o, q->rss);
                        break;
                case LV_VSZ_MB:
                        put_u64(&o, q->vsz / (1024 * 1024));
                        break;
                case LV_RSS_MB:
                        put_u64(&o, q->rss / (1024 * 1024));
                        break;
                case LV_UNKNOWN:
                        break;
                }
        }
        /* A line is one line: a newline inside a value (a header, a URI) would forge another. */
        for (char *c = buf; (c = memchr(c, '\n', (size_t) (o.p - c))); c++)
                *c = ' ';
        *o.p++ = '\n';
        return (size_t) (o.p - buf);
}
