/* SPDX-License-Identifier: MIT */
#pragma once

/* The request log line (uWSGI's logformat): a format such as
 *   %(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size)
 * is compiled once, at config time, into a list of pieces (literal text, or one variable),
 * and rendered per request into the caller's buffer: no allocation, no parsing, no lookup by
 * name in the hot path. uWSGI's default line is such a format too (LOGFORMAT_DEFAULT), so
 * one renderer serves both and the default cannot drift from what %(...) means.
 *
 * Unknown names are not errors: uWSGI fills them from the app (uwsgi.set_logvar), which we
 * have not; they render empty and logformat_compile() says so once, for the config's
 * warning. A "%(" with no ")" or an empty or overlong name is an error. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "request.h"

/* uWSGI's default request line, byte for byte in structure: "app: 0" (we serve one app),
 * req: this worker's requests / every worker's, the vars as a uwsgi packet, the start of
 * the request in ctime(3)'s form, "msecs" (or "micros" with log-micros). */
#define LOGFORMAT_DEFAULT                                                                        \
        "[pid: %(pid)|app: 0|req: %(wreq)/%(treq)] %(addr) (%(user)) {%(vars) vars in "        \
        "%(pktsize) bytes} [%(ctime)] %(method) %(uri) => generated %(rsize) bytes in "        \
        "%(elapsed) %(elapsed_unit) (%(proto) %(status)) %(headers) headers in %(hsize) bytes " \
        "(%(switches) switches on core %(core))"

/* The longest line rendered; a longer one is cut and still ends in "\n". Below PIPE_BUF, so
 * one write() of it into the log pipe is never split by another writer's. */
#define LOGFORMAT_LINE_MAX 4000
#define LOGFORMAT_NAME_MAX 64

typedef struct LogFormat LogFormat;

typedef struct LogFormatOptions {
        bool strftime;        /* logformat-strftime: strftime(3) applies to the literal text */
        bool micros;          /* log-micros: %(elapsed) in µs, %(elapsed_unit) "micros" */
        bool x_forwarded_for; /* log-x-forwarded-for: %(addr) from X-Forwarded-For */
        const char *date_format; /* log-date's strftime format for %(ftime); NULL: ctime's */
} LogFormatOptions;

/* Compiles fmt (NULL: LOGFORMAT_DEFAULT). Returns 0, -EINVAL with msg saying why, or -ENOMEM.
 * On success msg is empty, or a warning to give (an unknown name, which renders empty). */
int logformat_compile(const char *fmt, const LogFormatOptions *o, LogFormat **ret, char *msg,
                      size_t msg_size);
LogFormat *logformat_free(LogFormat *f);
static inline void logformat_freep(LogFormat **f) {
        logformat_free(*f);
}

/* Everything a line may say about one finished request. */
typedef struct LogRequest {
        const Request *r;
        pid_t pid;
        int worker_id;
        int core;
        uint64_t worker_requests; /* this worker's, this one included */
        uint64_t total_requests;  /* every worker's */
        int64_t elapsed_us;
        int64_t end_realtime_us;  /* CLOCK_REALTIME when it ended: start = end - elapsed */
        uint64_t vsz, rss;        /* bytes; 0 when not read */
} LogRequest;

/* Per thread: the time texts of the current second, made once a second. */
typedef struct LogClock {
        time_t sec;
        bool valid;
        char ctime[32]; /* "Sun Mar  6 22:56:30 2016" */
        char ltime[40]; /* "06/Mar/2016:22:56:30 +0100" */
        char ftime[128]; /* log-date's format */
        struct tm tm;
} LogClock;

/* Whether the format needs the process's memory (%(vsz), %(rss) ...): read only then. */
bool logformat_needs_memory(const LogFormat *f);

/* Renders one line, "\n" included, into buf (at least LOGFORMAT_LINE_MAX bytes). Returns its
 * length. */
size_t logformat_render(const LogFormat *f, const LogRequest *q, LogClock *clock, char *buf);
