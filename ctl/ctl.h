/* SPDX-License-Identifier: MIT */
#pragma once

/* What emperorctl's commands share: the parsed command line, the one-line error printer and
 * the control-socket request. main.c owns the command table and the option parsing; each
 * local command lives in a file of its own (history.c: stats and events, logs.c, top.c).
 *
 * Options are one table for every command (getopt_long, anywhere on the line); a command
 * names the ones it takes with CTL_OPT_* flags, and main.c refuses the others. */

#include <stdbool.h>

#include <cJSON.h>

#include "format.h"
#include "macro.h"

#ifndef EMPEROR_RUN_DIR
#define EMPEROR_RUN_DIR "/run/emperor"
#endif
#ifndef EMPEROR_STATE_DIR
#define EMPEROR_STATE_DIR "/var/lib/emperor"
#endif

/* The options a command may take, besides the global ones (--socket, --run-dir, --state-dir,
 * --db, --json, --help). */
enum {
        CTL_OPT_ALL = 1u << 0,    /* --all */
        CTL_OPT_SINCE = 1u << 1,  /* --since T */
        CTL_OPT_EVERY = 1u << 2,  /* --every D */
        CTL_OPT_CSV = 1u << 3,    /* --csv */
        CTL_OPT_LINES = 1u << 4,  /* -n N */
        CTL_OPT_FOLLOW = 1u << 5, /* -f, --follow */
        CTL_OPT_SORT = 1u << 6,   /* --sort KEY */
        CTL_OPT_DELAY = 1u << 7,  /* -d, --delay SECONDS */
        CTL_OPT_WAIT = 1u << 8,   /* --wait, --no-block */
        CTL_OPT_TIMEOUT = 1u << 9, /* --timeout S */
};

typedef struct CtlArgs {
        const char *socket, *run_dir, *state_dir, *db;
        bool json, all, csv, follow;
        bool wait;          /* --wait: the reply comes once the action has finished */
        double timeout;     /* --timeout S with --wait; 0: none */
        const char *since, *every, *sort, *delay;
        const char *lines; /* -n as given; the command parses it */
        unsigned given;    /* the CTL_OPT_* flags seen on the line */
} CtlArgs;

extern CtlArgs ctl_args;

typedef struct CtlCommand CtlCommand;
typedef struct ProtoCommand ProtoCommand;

/* What one run asks for, after the command line is checked against the table. */
typedef struct CtlInvocation {
        const CtlCommand *cmd;
        const ProtoCommand *proto; /* NULL for a local command */
        const char *app;           /* the positional argument, or NULL */
} CtlInvocation;

/* A one-line error on stderr, "emperorctl: ...". Returns status, for `return ctl_err(...)`. */
int ctl_err(int status, const char *fmt, ...) _printf_(2, 3);

/* Sends the control command cmd (for app, or NULL) and reads the reply. Returns the exit
 * status, an error printed. With print_json the reply is printed as received and *ret stays
 * NULL; else on CTL_EXIT_OK *ret is the reply, ok:true, the caller's to free. */
int ctl_request(const char *cmd, const char *app, bool all, bool print_json, cJSON **ret);
/* The same with "wait": the reply is awaited up to ctl_args.timeout (none: as long as the
 * emperor takes, which its own deadlines bound), with a progress line on a terminal. */
int ctl_request_wait(const char *cmd, const char *app, bool all, bool print_json, cJSON **ret);
/* Set around ctl_request() by a command with a fallback of its own (logs reads the store):
 * CTL_EXIT_NOT_RUNNING is then returned without the error printed. */
extern bool ctl_quiet_not_running;

/* The stats store's path: --db, else --state-dir's stats.db, else RUN_DIR/stats.db when the
 * emperor left that link there, else EMPEROR_STATE_DIR/stats.db. NULL on OOM. */
char *ctl_db_path(void);

/* Local commands, each in its own file. */
int ctl_cmd_stats(const CtlInvocation *inv);  /* history.c */
int ctl_cmd_events(const CtlInvocation *inv); /* history.c */
int ctl_cmd_logs(const CtlInvocation *inv);   /* logs.c */
int ctl_cmd_top(const CtlInvocation *inv);    /* top.c */
