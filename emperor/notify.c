/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "notify.h"

/* The longest X_EVENT detail kept. */
#define NOTIFY_DETAIL_MAX 512

/* X_EVENT=KIND DETAIL: other kinds, and kinds that are not words, are dropped: the store's
 * kinds are an interface (store.h). */
static void notify_event(const char *s, size_t n, const NotifyHandler *h, void *userdata) {
        static const char *const kinds[] = { "recycle", "harakiri", "worker-exit", "log-rotate" };
        const char *sp = memchr(s, ' ', n);
        size_t klen = sp ? (size_t) (sp - s) : n;

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                if (klen == strlen(kinds[k]) && memcmp(s, kinds[k], klen) == 0) {
                        const char *detail = sp ? sp + 1 : "";
                        size_t dlen = MIN(sp ? n - klen - 1 : 0, (size_t) NOTIFY_DETAIL_MAX);
                        h->event(userdata, kinds[k], detail, dlen);
                        return;
                }
}

void notify_parse(const char *msg, size_t len, const NotifyHandler *h, void *userdata) {
        const char *end = msg + len;

        for (const char *line = msg; line < end;) {
                const char *nl = memchr(line, '\n', end - line);
                size_t n = nl ? (size_t) (nl - line) : (size_t) (end - line);
                if (n == 7 && memcmp(line, "READY=1", 7) == 0)
                        h->ready(userdata);
                else if (n == 11 && memcmp(line, "RELOADING=1", 11) == 0)
                        h->phase(userdata, "reloading");
                else if (n == 10 && memcmp(line, "STOPPING=1", 10) == 0)
                        h->phase(userdata, "stopping");
                else if (n == 10 && memcmp(line, "WATCHDOG=1", 10) == 0)
                        h->watchdog(userdata, 0);
                else if (n > 14 && n < 14 + 21 && memcmp(line, "WATCHDOG_USEC=", 14) == 0) {
                        char num[24];
                        memcpy(num, line + 14, n - 14);
                        num[n - 14] = 0;
                        char *e;
                        unsigned long long v = strtoull(num, &e, 10);
                        /* At least a second, at most a day: a period is a promise. */
                        if (*e == 0 && v >= 1000000ULL && v <= 86400000000ULL)
                                h->watchdog(userdata, v);
                }
                else if (n > 7 && memcmp(line, "STATUS=", 7) == 0)
                        h->status(userdata, line + 7, n - 7);
                else if (n > 8 && memcmp(line, "X_EVENT=", 8) == 0)
                        notify_event(line + 8, n - 8, h, userdata);
                else if (n > 13 && memcmp(line, "X_STATS_SAME=", 13) == 0) {
                        VassalMeasures m;
                        if (vstats_parse_measures(line + 13, n - 13, &m) == 0)
                                h->measures(userdata, &m);
                }
                else if (n > 8 && memcmp(line, "X_STATS=", 8) == 0) {
                        /* Decoded once here; the JSON is not kept. */
                        VassalStats vs;
                        if (vstats_parse(line + 8, n - 8, &vs) == 0)
                                h->stats(userdata, &vs);
                        else
                                vstats_done(&vs);
                }
                line += n + 1;
        }
}
