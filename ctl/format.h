/* SPDX-License-Identifier: MIT */
#pragma once

/* emperorctl's output: turning the control protocol's replies (lib/proto.h) into exit
 * statuses and human text. Nothing here does I/O other than writing to the FILE it is
 * given, so every function is unit-tested on parsed replies (tests/unit/test-ctl-format.c).
 *
 * Replies come from another program: any field may be missing, null or of the wrong type.
 * Such a field prints as "-"; nothing here trusts a type it has not checked. */

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

/* emperorctl's exit statuses (man/emperorctl.1). */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,         /* the command failed, or the reply was malformed */
        CTL_EXIT_USAGE = 2,          /* bad command line, or the daemon said "usage" */
        CTL_EXIT_NO_SUCH_VASSAL = 3,
        CTL_EXIT_NOT_RUNNING = 4,    /* nobody listens on the control socket */
};

/* The widest LAST ERROR cell of the status table, in columns, "..." included. */
#define FORMAT_ERROR_COLUMNS 60

/* "45s", "3m12s", "2h05m", "3d04h": a duration in seconds, rounded down to what is shown.
 * Negative, NaN and infinite durations give "-". Returns buf. */
char *format_duration(double seconds, char *buf, size_t size);

/* Columns a UTF-8 string takes: one per code point (no wide characters in our output). */
size_t format_columns(const char *s);

/* The first line of s, safe to print on a terminal (control characters replaced), cut to
 * max_columns (0: no limit) with "..." marking what was cut. NULL on OOM. */
char *format_clean_line(const char *s, size_t max_columns);

/* The exit status a parsed reply calls for. When it is not CTL_EXIT_OK, *ret_error is a
 * one-line reason (a string owned by the reply, or a static one). A reply that is not an
 * object, or has no boolean "ok", is malformed: CTL_EXIT_FAILED. */
int format_reply_exit(const cJSON *reply, const char **ret_error);

/* The STATE cell of a vassal: its state, and the time to the next start in crash-loop,
 * "crash-loop (retry in 4s)". Returns buf. */
char *format_state(const cJSON *vassal, char *buf, size_t size);

/* The status table of a "vassals" array: a header, then one row per element. Returns 0,
 * or -ENOMEM. */
int format_status_table(FILE *f, const cJSON *vassals);

/* Every field of one vassal, one per line ("last error" over several when it has them);
 * fields this version does not know follow, under their own names. Returns 0 or -ENOMEM. */
int format_status_detail(FILE *f, const cJSON *vassal);

/* The human output of a successful status reply: the table when app is NULL, else the
 * detail of app (the reply's "vassal" object, or app's entry in "vassals"). Returns 0,
 * -ENOMEM, or -EBADMSG with a reason in *ret_error when the reply lacks what it needs. */
int format_status(FILE *f, const cJSON *reply, const char *app, const char **ret_error);

/* The human output of another successful command: its "message", if any. */
void format_message(FILE *f, const cJSON *reply);
