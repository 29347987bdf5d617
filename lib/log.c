/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Process-wide log settings. These are the only globals in lib/: logging is inherently
 * process state, and every module would otherwise have to carry a logger around. */
static int max_level = LOG_INFO;
static int level_prefix = 1;
static char prefix[128];

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *p) {
        if (!p)
                prefix[0] = 0;
        else
                (void) snprintf(prefix, sizeof(prefix), "%s: ", p);
}

void log_set_level_prefix(int enabled) {
        level_prefix = enabled;
}

bool log_stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        /* systemd's word that stderr is the journal: "DEV:INODE" of the stream it gave us;
         * a stderr redirected since (to a terminal, a file) is not it. */
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

int log_internalv(int level, int error, const char *func, const char *fmt, va_list ap) {
        char msg[2048], line[2304];
        int saved = errno;

        (void) func;
        /* %m expands to strerror(error), as with systemd's log functions. */
        errno = abs(error);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);

        int n;
        if (level_prefix)
                n = snprintf(line, sizeof(line), "<%d>%s%s\n", level, prefix, msg);
        else
                n = snprintf(line, sizeof(line), "%s%s\n", prefix, msg);
        if (n > (int) sizeof(line) - 1) {
                n = sizeof(line) - 1;
                line[n - 1] = '\n';
        }
        /* One write() per line: lines from several processes sharing a pipe never interleave
         * (pipe writes up to PIPE_BUF are atomic). */
        (void) !write(STDERR_FILENO, line, n);
        errno = saved;
        return -abs(error);
}

int log_internal(int level, int error, const char *func, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = log_internalv(level, error, func, fmt, ap);
        va_end(ap);
        return r;
}
