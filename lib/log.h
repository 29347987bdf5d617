/* SPDX-License-Identifier: MIT */
#pragma once

/* Logging to stderr with sd-daemon level prefixes ("<3>" ...) that journald understands.
 * Every function returns the negative errno it was given so a caller can write
 *         return log_error_errno(r, "Failed to bind '%s': %m", path);
 * %m prints strerror(-error). */

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Prefix every line with this identity ("vassal 'hello'", "worker 2"); NULL for none. */
void log_set_prefix(const char *prefix);
/* Prefix lines with "<N>" for journald (default), or not when logging to a file. */
void log_set_level_prefix(int enabled);
/* Whether stderr is the journal systemd connected us to ($JOURNAL_STREAM matches it): then
 * "<N>" prefixes give each line its priority; on a terminal or in a file they are noise. */
bool log_stderr_is_journal(void);

int log_internal(int level, int error, const char *func, const char *fmt, ...) _printf_(4, 5);
int log_internalv(int level, int error, const char *func, const char *fmt, va_list ap) _printf_(4, 0);

#define log_full_errno(level, error, ...)                                            \
        ({                                                                           \
                int _l_ = (level), _e_ = (error);                                    \
                _l_ <= log_get_max_level() ? log_internal(_l_, _e_, __func__, __VA_ARGS__) \
                                           : -__builtin_abs(_e_);                            \
        })

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
