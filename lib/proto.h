/* SPDX-License-Identifier: MIT */
#pragma once

/* The emperor's control protocol, spoken over RUN_DIR/control.sock (AF_UNIX, stream) by
 * emperorctl and the web dashboard: one JSON object per line each way.
 *
 *   request   {"v":1,"cmd":"status"}                      every vassal
 *             {"v":1,"cmd":"status","vassal":"hello"}     one vassal, with details
 *             {"v":1,"cmd":"status","detail":true}        every vassal, with details (the
 *                                                          dashboard's poll: emperor-web)
 *             {"v":1,"cmd":"reload","vassal":"hello"}     blue-green reload
 *             {"v":1,"cmd":"reload","all":true}           every vassal
 *             {"v":1,"cmd":"chain-reload","vassal":"hello"} workers one at a time (SIGUSR2)
 *             {"v":1,"cmd":"restart"|"stop"|"start","vassal":"hello"}
 *             {"v":1,"cmd":"reload","vassal":"hello","wait":true}  the reply comes once the
 *                                                          action has finished: the new
 *                                                          vassal ready, or stopped; ok:false
 *                                                          with the vassal's error if not
 *             {"v":1,"cmd":"rescan"}                      scan the conf dir now (SIGHUP)
 *   reply     {"ok":true,"vassals":[VASSAL,...]}          status
 *             {"ok":true,"message":"reloading 'hello'"}   the others
 *             {"ok":true,"message":"reloaded 'hello' (pid 42)","pid":42}  with wait
 *             {"ok":false,"code":"no-such-vassal","error":"no vassal named 'x'"}
 *
 *   VASSAL    {"name":"hello","state":"running","pid":123,"uptime":12.5,"restarts":0,
 *              "workers":{"busy":0,"total":2},"requests":1234,
 *              "last_exit":"killed by signal KILL"|null,"last_error":"file:line: ..."|null,
 *              "backoff":4 (seconds to the next start, in crash-loop),
 *              "ini":"/etc/apps.d/hello.ini","sockets":["127.0.0.1:8080"],
 *              "worker_pids":[124,125],"uid":33,"owner":0 (the ini's),
 *              "exceptions":3,"cpu_time":1.5 (s, null: unknown),
 *              "rt_hist":{"le_us":[...],"counts":[...],"count":N,"sum_us":S} (with detail)}
 *
 * A request line is at most PROTO_MAX_LINE bytes; the daemon answers a longer one with
 * code "too-large" and closes the connection. The command table below is the one both sides
 * use: the daemon to validate, emperorctl to parse and to print its help. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PROTO_VERSION 1
#define PROTO_MAX_LINE 65536

/* Error codes in replies, and emperorctl's exit status for each. */
#define PROTO_E_USAGE "usage"                 /* exit 2 */
#define PROTO_E_BAD_REQUEST "bad-request"     /* exit 2 */
#define PROTO_E_TOO_LARGE "too-large"         /* exit 2 */
#define PROTO_E_NO_SUCH_VASSAL "no-such-vassal" /* exit 3 */
#define PROTO_E_PERMISSION "permission-denied" /* exit 1 */
#define PROTO_E_FAILED "failed"               /* exit 1 */

typedef enum ProtoTarget {
        PROTO_TARGET_NONE,     /* takes no vassal */
        PROTO_TARGET_OPTIONAL, /* one vassal or none (status) */
        PROTO_TARGET_ONE,      /* exactly one vassal */
        PROTO_TARGET_ONE_OR_ALL, /* one vassal, or "all" (reload --all) */
} ProtoTarget;

typedef struct ProtoCommand {
        const char *name;
        const char *usage;   /* "status [APP]" */
        const char *summary; /* one line for help */
        ProtoTarget target;
        bool mutating;       /* changes state: needs permission on the vassal */
} ProtoCommand;

/* NULL when unknown. */
const ProtoCommand *proto_command_find(const char *name);
/* The table, for help output: *ret_n entries. */
const ProtoCommand *proto_commands(size_t *ret_n);

/* A validated request. */
typedef struct ProtoRequest {
        const ProtoCommand *command;
        char vassal[129]; /* empty: none */
        bool all;
        bool detail; /* status: every vassal with its details */
        bool wait;   /* a vassal action: reply once it has finished (or failed) */
} ProtoRequest;

/* Parses and validates one request line (no newline) against the command table. Returns 0, or
 * -EINVAL with *ret_code set to one of the PROTO_E_* codes and the reason written to error.
 * A vassal name that is not a valid name is accepted here (it simply names no vassal). */
int proto_request_parse(const char *line, ProtoRequest *ret, const char **ret_code, char *error,
                        size_t error_size);

/* Vassal names are file names without ".ini": letters, digits, '.', '_', '-', '@', not
 * starting with '.', at most 128 bytes. */
bool proto_name_valid(const char *name);
