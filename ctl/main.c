/* SPDX-License-Identifier: MIT */
/* emperorctl: the emperor's command-line client. Parses the command line against the command
 * table below, sends one request over the control socket (lib/proto.h), reads one reply and
 * prints it (format.c), or the reply as received with --json.
 *
 * The table is tmux's cmd_entry: one entry per command with its handler. A command the
 * daemon serves takes its usage, summary and arguments from lib/proto.c, so the two sides
 * cannot disagree; a command in lib/proto.c that has no entry here still works, through the
 * generic handler. Local commands (stats, events and logs read the store and the files
 * directly, so they work while the daemon is down; top polls the daemon) have their own files
 * and entries. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "ctl.h"
#include "format.h"
#include "macro.h"
#include "proto.h"
#include "version.h"

/* A status reply of a large fleet with long errors stays far below this; a reply beyond it
 * is a broken daemon, not a fleet. */
#define CTL_MAX_REPLY (16u << 20)
#define CTL_TIMEOUT_SEC 30.0

CtlArgs ctl_args;
bool ctl_quiet_not_running;
#define arg_socket ctl_args.socket
#define arg_run_dir ctl_args.run_dir
#define arg_json ctl_args.json
#define arg_all ctl_args.all

static inline void cJSON_Deletep(cJSON **j) {
        cJSON_Delete(*j);
}

int ctl_err(int status, const char *fmt, ...) {
        va_list ap;

        fputs("emperorctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return status;
}

#define err ctl_err

struct CtlCommand {
        const char *name;
        /* A local command's usage, summary and number of arguments; for a command the daemon
         * serves, NULL, NULL and unused: lib/proto.c's are used. */
        const char *usage;
        const char *summary;
        int min_args, max_args;
        unsigned options; /* the CTL_OPT_* it takes (--all: from lib/proto.c for the daemon's) */
        int (*handler)(const CtlInvocation *inv);
};

static int cmd_status(const CtlInvocation *inv);
static int cmd_message(const CtlInvocation *inv);
static int cmd_help(const CtlInvocation *inv);

static const CtlCommand ctl_commands[] = {
        { "status", NULL, NULL, 0, 0, 0, cmd_status },
        { "reload", NULL, NULL, 0, 0, 0, cmd_message },
        { "restart", NULL, NULL, 0, 0, 0, cmd_message },
        { "stop", NULL, NULL, 0, 0, 0, cmd_message },
        { "start", NULL, NULL, 0, 0, 0, cmd_message },
        { "chain-reload", NULL, NULL, 0, 0, 0, cmd_message },
        { "upgrade", NULL, NULL, 0, 0, 0, cmd_message },
        { "stats", "stats [APP] [--since T] [--every D] [--csv]",
          "the stored samples of the fleet, or of one vassal (from the store)", 0, 1,
          CTL_OPT_SINCE | CTL_OPT_EVERY | CTL_OPT_CSV, ctl_cmd_stats },
        { "events", "events [APP] [--since T] [--csv]",
          "the stored lifecycle events (from the store)", 0, 1, CTL_OPT_SINCE | CTL_OPT_CSV,
          ctl_cmd_events },
        { "logs", "logs APP [-n N] [-f]",
          "the last N lines of the vassal's log; -f follows it across rotations", 1, 1,
          CTL_OPT_LINES | CTL_OPT_FOLLOW, ctl_cmd_logs },
        { "top", "top [--sort KEY] [-d S] [-n N]",
          "a live view of the fleet, sorted by rps, latency, memory, cpu or name", 0, 0,
          CTL_OPT_SORT | CTL_OPT_DELAY | CTL_OPT_LINES, ctl_cmd_top },
        { "help", "help [COMMAND]", "show this help, or one command's", 0, 1, 0, cmd_help },
};

/* A command the daemon knows but this table does not: sent as is, its message printed. */
static const CtlCommand ctl_generic = { NULL, NULL, NULL, 0, 0, 0, cmd_message };

static const CtlCommand *ctl_command_find(const char *name, const ProtoCommand **ret_proto) {
        const ProtoCommand *p = proto_command_find(name);

        *ret_proto = p;
        for (size_t i = 0; i < ELEMENTSOF(ctl_commands); i++)
                if (streq(ctl_commands[i].name, name))
                        return &ctl_commands[i];
        return p ? &ctl_generic : NULL;
}

static const char *command_usage(const CtlCommand *c, const ProtoCommand *p) {
        return p ? p->usage : c->usage;
}

static void help_line(const char *usage, const char *summary) {
        usage = usage ? usage : "";
        summary = summary ? summary : "";
        if (strlen(usage) > 22)
                printf("  %s\n  %-22s %s\n", usage, "", summary);
        else
                printf("  %-22s %s\n", usage, summary);
}

static void help(void) {
        size_t n;
        const ProtoCommand *p = proto_commands(&n);

        printf("Usage: emperorctl [--socket PATH | --run-dir DIR] [--state-dir DIR | --db PATH] "
               "[--json] COMMAND [APP]\n\n"
               "Controls the emperor and its vassals over the emperor's control socket.\n\n"
               "Commands:\n");
        /* Ours first, in table order, then any the daemon's table has and ours lacks. */
        for (size_t i = 0; i < ELEMENTSOF(ctl_commands); i++) {
                const ProtoCommand *pc = proto_command_find(ctl_commands[i].name);
                help_line(command_usage(&ctl_commands[i], pc),
                          pc ? pc->summary : ctl_commands[i].summary);
        }
        for (size_t i = 0; i < n; i++) {
                bool listed = false;
                for (size_t j = 0; j < ELEMENTSOF(ctl_commands); j++)
                        listed = listed || streq(ctl_commands[j].name, p[i].name);
                if (!listed)
                        help_line(p[i].usage, p[i].summary);
        }
        printf("\nOptions:\n");
        help_line("--socket PATH", "the control socket (default: $EMPERORCTL_SOCKET, else");
        help_line("", "RUN_DIR/control.sock)");
        help_line("--run-dir DIR", "the emperor's run directory (default " EMPEROR_RUN_DIR ")");
        help_line("--state-dir DIR", "the emperor's state directory (default " EMPEROR_STATE_DIR ")");
        help_line("--db PATH", "the stats store (default: STATE_DIR/stats.db)");
        help_line("--json", "print the emperor's reply (or the history) as JSON");
        help_line("--since T", "stats, events: from T ago (90s, 15m, 1h, 30d) or a local");
        help_line("", "time (2026-11-30T10:00); default 1h, events 24h");
        help_line("--every D", "stats: one row per D (default: from the span)");
        help_line("--csv", "stats, events: CSV instead of a table");
        help_line("-n N", "logs: lines to show (default 10); top: refreshes, then exit");
        help_line("-f, --follow", "logs: keep printing new lines");
        help_line("--sort KEY", "top: rps (default), latency, memory, cpu or name");
        help_line("-d, --delay S", "top: seconds between refreshes (default 2)");
        help_line("--wait", "reload, chain-reload, restart, start, stop: return once done");
        help_line("", "(the new workers accept, or stopped); exit 1 with why if it failed");
        help_line("--no-block", "return once the emperor took the command (the default)");
        help_line("--timeout S", "with --wait: give up waiting after S seconds (exit 1)");
        help_line("-h, --help", "show this help");
        help_line("--version", "show the version");
        printf("\nExit status: 0 ok, 1 the command failed, 2 usage, 3 no such vassal,\n"
               "4 the emperor is not running.\n");
}

static int cmd_help(const CtlInvocation *inv) {
        const ProtoCommand *p;
        const CtlCommand *c;

        if (!inv->app) {
                help();
                return CTL_EXIT_OK;
        }
        c = ctl_command_find(inv->app, &p);
        if (!c)
                return err(CTL_EXIT_USAGE, "unknown command '%s' (try 'emperorctl --help')",
                           inv->app);
        printf("Usage: emperorctl %s\n  %s\n", command_usage(c, p), p ? p->summary : c->summary);
        return CTL_EXIT_OK;
}

/* Checks the positional arguments and --all against the command; prints a one-line error
 * and returns CTL_EXIT_USAGE, or fills *inv and returns 0. */
static int check_arguments(const CtlCommand *c, const ProtoCommand *p, char **args, int n,
                           CtlInvocation *inv) {
        const char *usage = command_usage(c, p);
        const char *name = p ? p->name : c->name;
        bool takes_all = p && p->target == PROTO_TARGET_ONE_OR_ALL;
        int min = c->min_args, max = c->max_args;

        if (p) {
                bool one_or_all = p->target == PROTO_TARGET_ONE_OR_ALL;
                min = p->target == PROTO_TARGET_ONE || (one_or_all && !arg_all);
                max = p->target == PROTO_TARGET_NONE || (one_or_all && arg_all) ? 0 : 1;
        }
        /* --wait and --timeout: what acts on vassals has an end to wait for. */
        bool takes_wait = p && p->mutating && p->target != PROTO_TARGET_NONE;
        unsigned takes = p ? (takes_all ? CTL_OPT_ALL : 0) |
                                     (takes_wait ? CTL_OPT_WAIT | CTL_OPT_TIMEOUT : 0)
                           : c->options;
        unsigned extra = ctl_args.given & ~takes & ~(unsigned) CTL_OPT_ALL;
        if (extra) {
                static const char *const names[] = { "--all",    "--since", "--every",
                                                     "--csv",    "-n",      "--follow",
                                                     "--sort",   "--delay", "--wait",
                                                     "--timeout" };
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (extra & (1u << i))
                                return err(CTL_EXIT_USAGE,
                                           "'%s' does not take %s (usage: emperorctl %s)", name,
                                           names[i], usage);
        }
        if (arg_all && !takes_all)
                return err(CTL_EXIT_USAGE, "'%s' does not take --all (usage: emperorctl %s)", name,
                           usage);
        if (arg_all && n > 0)
                return err(CTL_EXIT_USAGE,
                           "give APP or --all to '%s', not both (usage: emperorctl %s)", name,
                           usage);
        if (n < min)
                return err(CTL_EXIT_USAGE, "'%s' needs %s (usage: emperorctl %s)", name,
                           takes_all ? "APP or --all" : "an APP", usage);
        if (n > max)
                return err(CTL_EXIT_USAGE,
                           "too many arguments to '%s': '%s' (usage: emperorctl %s)", name,
                           args[max], usage);
        *inv = (CtlInvocation) { .cmd = c, .proto = p, .app = n > 0 ? args[0] : NULL };
        if ((p || c->handler != cmd_help) && inv->app && !proto_name_valid(inv->app)) {
                _cleanup_free_ char *clean = format_clean_line(inv->app, 40);
                return err(CTL_EXIT_USAGE, "invalid vassal name '%s'", clean ? clean : "?");
        }
        return 0;
}

/* The control socket: --socket, else RUN_DIR/control.sock with --run-dir, else
 * $EMPERORCTL_SOCKET, else the default run dir's. A command-line option beats the
 * environment, as everywhere. NULL on OOM. */
static char *socket_path(void) {
        const char *env = getenv("EMPERORCTL_SOCKET");
        const char *dir = arg_run_dir ? arg_run_dir : EMPEROR_RUN_DIR;
        size_t n = strlen(dir);
        char *path;

        if (arg_socket)
                return strdup(arg_socket);
        if (!arg_run_dir && env && env[0])
                return strdup(env);
        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (asprintf(&path, "%.*s/control.sock", (int) n, dir) < 0)
                return NULL;
        return path;
}

char *ctl_db_path(void) {
        char *path;

        if (ctl_args.db)
                return strdup(ctl_args.db);
        if (ctl_args.state_dir) {
                if (asprintf(&path, "%s/stats.db", ctl_args.state_dir) < 0)
                        return NULL;
                return path;
        }
        if (arg_run_dir) {
                if (asprintf(&path, "%s/stats.db", arg_run_dir) < 0)
                        return NULL;
                if (access(path, F_OK) == 0)
                        return path;
                free(path);
        }
        /* The emperor whose control socket we use links its store beside it
         * (RUN_DIR/stats.db): --socket and $EMPERORCTL_SOCKET find it too. */
        _cleanup_free_ char *sock = socket_path();
        char *slash = sock ? strrchr(sock, '/') : NULL;
        if (slash) {
                *slash = 0;
                if (asprintf(&path, "%s/stats.db", sock) < 0)
                        return NULL;
                if (access(path, F_OK) == 0)
                        return path;
                free(path);
        }
        return strdup(EMPEROR_STATE_DIR "/stats.db");
}

/* The reply deadline in seconds: $EMPERORCTL_TIMEOUT, else 30. -1 when it is not a positive
 * number. */
static double reply_timeout(void) {
        const char *s = getenv("EMPERORCTL_TIMEOUT");
        char *end;
        double t;

        if (!s || !s[0])
                return CTL_TIMEOUT_SEC;
        errno = 0;
        t = strtod(s, &end);
        if (errno != 0 || *end || !isfinite(t) || t <= 0 || t > 86400)
                return -1;
        return t;
}

static double now_monotonic(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connects to the control socket; returns the fd, or a negative exit status after printing
 * why. */
static int ctl_connect(const char *path, double timeout) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = (time_t) timeout,
                              .tv_usec = (suseconds_t) ((timeout - floor(timeout)) * 1e6) };
        _cleanup_close_ int fd = -1;
        size_t n = strlen(path);

        if (n == 0 || n >= sizeof(sa.sun_path))
                return -err(CTL_EXIT_USAGE, "invalid socket path '%s' (1 to %zu bytes)", path,
                            sizeof(sa.sun_path) - 1);
        memcpy(sa.sun_path, path, n);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -err(CTL_EXIT_FAILED, "cannot create a socket: %m");
        /* Bounds connect() on a full backlog (AF_UNIX waits for room) and send(). */
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                switch (errno) {
                case ENOENT:
                case ECONNREFUSED:
                        if (ctl_quiet_not_running)
                                return -CTL_EXIT_NOT_RUNNING;
                        return -err(CTL_EXIT_NOT_RUNNING,
                                    "the emperor is not running (cannot connect to %s: %m)", path);
                case EACCES:
                case EPERM:
                        return -err(CTL_EXIT_FAILED,
                                    "permission denied on %s (try as root or the emperor's user)",
                                    path);
                case EAGAIN:
                case ETIMEDOUT:
                        return -err(CTL_EXIT_FAILED,
                                    "the emperor is not answering on %s (timed out)", path);
                default:
                        return -err(CTL_EXIT_FAILED, "cannot connect to %s: %m", path);
                }
        }
        return TAKE_FD(fd);
}

/* 0, -1 when the emperor closed the connection (its answer, if any, is still to be read), or
 * a CTL_EXIT_* code once said why. */
static int send_all(int fd, const char *buf, size_t n, const char *path) {
        while (n > 0) {
                ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return err(CTL_EXIT_FAILED, "the emperor is not reading requests on %s",
                                   path);
                /* The emperor may have answered and closed already (a refusal when it is full):
                 * its answer is still there to read. */
                if (k < 0 && (errno == EPIPE || errno == ECONNRESET))
                        return -1;
                if (k < 0)
                        return err(CTL_EXIT_FAILED, "cannot send the request to %s: %m", path);
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

/* While a --wait runs on a terminal: "reloading 'app'... 3 s" on stderr, rewritten once a
 * second (the poll's timeout, not a loop of ours); erased before anything else is printed. */
typedef struct Progress {
        const char *what; /* the command waited for; NULL: no wait */
        const char *app;
        double since;
        bool tty;   /* shown only on a terminal */
        bool shown;
} Progress;

static void progress_show(Progress *p) {
        if (!p->what || !p->tty)
                return;
        fprintf(stderr, "\r\033[K%s%s%s%s... %.0f s", p->what, p->app ? " '" : "",
                p->app ? p->app : "", p->app ? "'" : "", floor(now_monotonic() - p->since));
        fflush(stderr);
        p->shown = true;
}

static void progress_clear(Progress *p) {
        if (p->shown)
                fputs("\r\033[K", stderr);
        p->shown = false;
}

/* Reads one reply line, up to CTL_MAX_REPLY bytes and until the deadline (timeout <= 0:
 * none). The newline is not part of *ret_len; a last line without one is taken as it is. */
static int recv_line(int fd, double timeout, const char *path, Progress *progress, char **ret,
                     size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, len = 0;
        double deadline = now_monotonic() + timeout;

        for (;;) {
                double left = timeout > 0 ? deadline - now_monotonic() : INFINITY;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int r, ms = isinf(left) ? -1 : (int) ceil(left * 1000);

                if (left <= 0 && progress->what) {
                        progress_clear(progress);
                        return err(CTL_EXIT_FAILED, "%s%s%s%s: not done after %g s (it goes on: "
                                   "see 'emperorctl status%s%s')", progress->what,
                                   progress->app ? " '" : "", strempty(progress->app),
                                   progress->app ? "'" : "", timeout,
                                   progress->app ? " " : "", strempty(progress->app));
                }
                if (left <= 0)
                        return err(CTL_EXIT_FAILED, "the emperor did not answer within %g s",
                                   timeout);
                if (progress->tty) {
                        progress_show(progress);
                        if (ms < 0 || ms > 1000)
                                ms = 1000;
                }
                r = poll(&pfd, 1, ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return err(CTL_EXIT_FAILED, "cannot wait for the reply: %m");
                if (r == 0)
                        continue; /* the deadline check above ends it */
                if (len == size) {
                        if (size > CTL_MAX_REPLY)
                                return err(CTL_EXIT_FAILED,
                                           "malformed reply from the emperor: longer than %u MiB",
                                           CTL_MAX_REPLY >> 20);
                        size_t nsize = size ? MIN(size * 2, (size_t) CTL_MAX_REPLY + 1) : 65536;
                        char *nbuf = realloc(buf, nsize + 1);
                        if (!nbuf)
                                return err(CTL_EXIT_FAILED, "out of memory");
                        buf = nbuf;
                        size = nsize;
                }
                ssize_t k = recv(fd, buf + len, size - len, 0);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return err(CTL_EXIT_FAILED, "cannot read the reply from %s: %m", path);
                if (k == 0) {
                        if (len == 0)
                                return err(CTL_EXIT_FAILED,
                                           "the emperor closed the connection without a reply");
                        break;
                }
                char *nl = memchr(buf + len, '\n', (size_t) k);
                len += (size_t) k;
                if (nl) {
                        len = (size_t) (nl - buf);
                        break;
                }
        }
        if (len > CTL_MAX_REPLY)
                return err(CTL_EXIT_FAILED, "malformed reply from the emperor: longer than %u MiB",
                           CTL_MAX_REPLY >> 20);
        if (len > 0 && buf[len - 1] == '\r')
                len--;
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Parses a reply line: one JSON object and nothing after it but blanks. */
static int parse_reply(const char *line, size_t len, cJSON **ret) {
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, false);

        if (j && end)
                end += strspn(end, " \t\r\n");
        if (!j || !end || end != line + len || memchr(line, '\0', len)) {
                _cleanup_free_ char *clean = format_clean_line(line, 60);
                cJSON_Delete(j);
                return err(CTL_EXIT_FAILED, "malformed reply from the emperor: not JSON: '%s'",
                           clean ? clean : "?");
        }
        *ret = j;
        return 0;
}

/* Sends inv's request and reads the reply. Returns the exit status, an error printed; with
 * --json the reply is printed here and *ret stays NULL; else on CTL_EXIT_OK *ret is the
 * reply, ok:true. */
static int request(const char *cmd, const char *app, bool all, bool wait, bool print_json,
                   cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        _cleanup_free_ char *path = socket_path(), *line = NULL, *text = NULL;
        _cleanup_close_ int fd = -1;
        double timeout = reply_timeout();
        const char *error = NULL;
        size_t len = 0;
        int r;

        *ret = NULL;
        if (timeout < 0)
                return err(CTL_EXIT_USAGE, "invalid EMPERORCTL_TIMEOUT '%s' (seconds, > 0)",
                           getenv("EMPERORCTL_TIMEOUT"));
        if (!req || !path || !cJSON_AddNumberToObject(req, "v", PROTO_VERSION) ||
            !cJSON_AddStringToObject(req, "cmd", cmd) ||
            (app && !cJSON_AddStringToObject(req, "vassal", app)) ||
            (all && !cJSON_AddTrueToObject(req, "all")) ||
            (wait && !cJSON_AddTrueToObject(req, "wait")))
                return err(CTL_EXIT_FAILED, "out of memory");
        text = cJSON_PrintUnformatted(req);
        if (!text)
                return err(CTL_EXIT_FAILED, "out of memory");
        size_t n = strlen(text);
        if (n + 1 > PROTO_MAX_LINE)
                return err(CTL_EXIT_USAGE, "request too long");
        text[n] = '\n'; /* cJSON's terminator becomes the line end: send n + 1 bytes */

        fd = ctl_connect(path, timeout);
        if (fd < 0)
                return -fd;
        r = send_all(fd, text, n + 1, path);
        if (r > 0)
                return r;
        /* With wait the reply comes when the action is done: --timeout, or none. */
        Progress progress = { .since = now_monotonic() };
        if (wait) {
                progress.what = cmd;
                progress.app = app;
                progress.tty = isatty(STDERR_FILENO);
        }
        r = recv_line(fd, wait ? ctl_args.timeout : timeout, path, &progress, &line, &len);
        progress_clear(&progress);
        if (r != 0)
                return r;
        r = parse_reply(line, len, &reply);
        if (r != 0)
                return r;

        r = format_reply_exit(reply, &error);
        /* A reply without a boolean "ok" is not one: never pass it on as if it were. */
        if (cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(reply, "ok")) && print_json) {
                fwrite(line, 1, len, stdout);
                fputc('\n', stdout);
                return r;
        }
        if (r != CTL_EXIT_OK)
                return err(r, "%s", error);
        *ret = TAKE_PTR(reply);
        return CTL_EXIT_OK;
}

int ctl_request(const char *cmd, const char *app, bool all, bool print_json, cJSON **ret) {
        return request(cmd, app, all, false, print_json, ret);
}

int ctl_request_wait(const char *cmd, const char *app, bool all, bool print_json, cJSON **ret) {
        return request(cmd, app, all, true, print_json, ret);
}

static int cmd_status(const CtlInvocation *inv) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        const char *error = NULL;
        int r = ctl_request(inv->proto->name, inv->app, arg_all, arg_json, &reply);

        if (r != CTL_EXIT_OK || !reply)
                return r;
        r = format_status(stdout, reply, inv->app, &error);
        if (r == -ENOMEM)
                return err(CTL_EXIT_FAILED, "out of memory");
        if (r < 0)
                return err(CTL_EXIT_FAILED, "%s", error);
        /* The vassals whose ini has warnings (unknown keys, ignored options): named after the
         * table, shown in full by `status APP`. */
        const cJSON *vassals = cJSON_GetObjectItemCaseSensitive(reply, "vassals"), *v;
        _cleanup_free_ char *names = NULL;
        size_t names_size = 0, n_warned = 0;
        FILE *nf = !arg_json && !inv->app ? open_memstream(&names, &names_size) : NULL;
        const cJSON *list = nf ? vassals : NULL;
        cJSON_ArrayForEach(v, list) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
                if (cJSON_IsString(name) &&
                    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "warnings"))) {
                        _cleanup_free_ char *clean = format_clean_line(name->valuestring, 40);
                        fprintf(nf, "%s%s", n_warned++ ? ", " : "", clean ? clean : "?");
                }
        }
        if (nf && fclose(nf) == 0 && n_warned > 0 && names)
                fprintf(stderr, "warning: the ini of %s has warnings (see 'emperorctl status "
                        "APP')\n", names);
        /* The conf dir's files that are not vassals: warnings, after the table. */
        const cJSON *ignored = cJSON_GetObjectItemCaseSensitive(reply, "ignored"), *x;
        cJSON_ArrayForEach(x, ignored) {
                const cJSON *file = cJSON_GetObjectItemCaseSensitive(x, "file");
                const cJSON *why = cJSON_GetObjectItemCaseSensitive(x, "reason");
                if (!arg_json && cJSON_IsString(file) && cJSON_IsString(why))
                        fprintf(stderr, "warning: '%s' ignored: %s\n", file->valuestring,
                                why->valuestring);
        }
        return CTL_EXIT_OK;
}

static int cmd_message(const CtlInvocation *inv) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        int r = ctl_args.wait ? ctl_request_wait(inv->proto->name, inv->app, arg_all, arg_json,
                                                 &reply)
                              : ctl_request(inv->proto->name, inv->app, arg_all, arg_json, &reply);

        if (r != CTL_EXIT_OK || !reply)
                return r;
        format_message(stdout, reply);
        return CTL_EXIT_OK;
}

enum {
        OPT_SOCKET = 0x100,
        OPT_RUN_DIR,
        OPT_STATE_DIR,
        OPT_DB,
        OPT_JSON,
        OPT_ALL,
        OPT_SINCE,
        OPT_EVERY,
        OPT_CSV,
        OPT_SORT,
        OPT_VERSION,
        OPT_WAIT,
        OPT_NO_BLOCK,
        OPT_TIMEOUT,
};

/* Parses the options, anywhere on the line (`emperorctl status --json` reads as it should;
 * `--` ends them, for a vassal named "-x"). Returns -1 to go on, else the exit status. */
static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "run-dir", required_argument, NULL, OPT_RUN_DIR },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "db", required_argument, NULL, OPT_DB },
                { "json", no_argument, NULL, OPT_JSON },
                { "all", no_argument, NULL, OPT_ALL },
                { "since", required_argument, NULL, OPT_SINCE },
                { "every", required_argument, NULL, OPT_EVERY },
                { "csv", no_argument, NULL, OPT_CSV },
                { "sort", required_argument, NULL, OPT_SORT },
                { "follow", no_argument, NULL, 'f' },
                { "delay", required_argument, NULL, 'd' },
                { "wait", no_argument, NULL, OPT_WAIT },
                { "no-block", no_argument, NULL, OPT_NO_BLOCK },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int c;

        opterr = 0; /* our own one-line messages */
        while ((c = getopt_long(argc, argv, ":hfn:d:", options, NULL)) >= 0)
                switch (c) {
                case OPT_SOCKET:
                        arg_socket = optarg;
                        break;
                case OPT_RUN_DIR:
                        arg_run_dir = optarg;
                        break;
                case OPT_STATE_DIR:
                        ctl_args.state_dir = optarg;
                        break;
                case OPT_DB:
                        ctl_args.db = optarg;
                        break;
                case OPT_JSON:
                        arg_json = true;
                        break;
                case OPT_ALL:
                        arg_all = true;
                        ctl_args.given |= CTL_OPT_ALL;
                        break;
                case OPT_SINCE:
                        ctl_args.since = optarg;
                        ctl_args.given |= CTL_OPT_SINCE;
                        break;
                case OPT_EVERY:
                        ctl_args.every = optarg;
                        ctl_args.given |= CTL_OPT_EVERY;
                        break;
                case OPT_CSV:
                        ctl_args.csv = true;
                        ctl_args.given |= CTL_OPT_CSV;
                        break;
                case OPT_SORT:
                        ctl_args.sort = optarg;
                        ctl_args.given |= CTL_OPT_SORT;
                        break;
                case 'f':
                        ctl_args.follow = true;
                        ctl_args.given |= CTL_OPT_FOLLOW;
                        break;
                case 'n':
                        ctl_args.lines = optarg;
                        ctl_args.given |= CTL_OPT_LINES;
                        break;
                case 'd':
                        ctl_args.delay = optarg;
                        ctl_args.given |= CTL_OPT_DELAY;
                        break;
                case OPT_WAIT:
                case OPT_NO_BLOCK:
                        ctl_args.wait = c == OPT_WAIT;
                        ctl_args.given |= CTL_OPT_WAIT;
                        break;
                case OPT_TIMEOUT: {
                        char *end;
                        errno = 0;
                        double t = strtod(optarg, &end);
                        if (errno != 0 || end == optarg || *end || !isfinite(t) || t <= 0 ||
                            t > 86400)
                                return err(CTL_EXIT_USAGE,
                                           "invalid --timeout '%s' (seconds, > 0, at most 86400)",
                                           optarg);
                        ctl_args.timeout = t;
                        ctl_args.given |= CTL_OPT_TIMEOUT;
                        break;
                }
                case 'h':
                        help();
                        return CTL_EXIT_OK;
                case OPT_VERSION:
                        printf("emperorctl " EMPEROR_VERSION " (control protocol %d)\n", PROTO_VERSION);
                        return CTL_EXIT_OK;
                case ':':
                        return err(CTL_EXIT_USAGE, "option '%s' needs a value", argv[optind - 1]);
                case '?':
                default:
                        if (optopt && optopt < 0x100)
                                return err(CTL_EXIT_USAGE,
                                           "unknown option '-%c' (try 'emperorctl --help')",
                                           optopt);
                        if (optopt)
                                return err(CTL_EXIT_USAGE, "option '%s' needs a value",
                                           argv[optind - 1]);
                        return err(CTL_EXIT_USAGE, "unknown option '%s' (try 'emperorctl --help')",
                                   argv[optind - 1]);
                }
        if (arg_socket && arg_run_dir)
                return err(CTL_EXIT_USAGE, "give --socket or --run-dir, not both");
        if (arg_socket && !arg_socket[0])
                return err(CTL_EXIT_USAGE, "--socket needs a path");
        if (arg_run_dir && !arg_run_dir[0])
                return err(CTL_EXIT_USAGE, "--run-dir needs a directory");
        if (ctl_args.db && !ctl_args.db[0])
                return err(CTL_EXIT_USAGE, "--db needs a path");
        if (ctl_args.state_dir && !ctl_args.state_dir[0])
                return err(CTL_EXIT_USAGE, "--state-dir needs a directory");
        if (ctl_args.db && ctl_args.state_dir)
                return err(CTL_EXIT_USAGE, "give --db or --state-dir, not both");
        if (ctl_args.timeout > 0 && !ctl_args.wait)
                return err(CTL_EXIT_USAGE, "--timeout is for --wait");
        return -1;
}

int main(int argc, char **argv) {
        const ProtoCommand *p = NULL;
        const CtlCommand *c;
        CtlInvocation inv;
        int r;

        r = parse_argv(argc, argv);
        if (r >= 0)
                return r;
        if (optind >= argc)
                return err(CTL_EXIT_USAGE, "no command given (try 'emperorctl --help')");
        c = ctl_command_find(argv[optind], &p);
        if (!c) {
                _cleanup_free_ char *clean = format_clean_line(argv[optind], 40);
                return err(CTL_EXIT_USAGE, "unknown command '%s' (try 'emperorctl --help')",
                           clean ? clean : "?");
        }
        r = check_arguments(c, p, argv + optind + 1, argc - optind - 1, &inv);
        if (r != 0)
                return r;
        r = c->handler(&inv);
        /* Output that did not reach stdout (a full disk, a closed pipe) is a failure. */
        if (fflush(stdout) != 0 || ferror(stdout))
                return err(CTL_EXIT_FAILED, "cannot write the output: %m");
        return r;
}
