/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "acceptor.h"
#include "control.h"
#include "conf.h"
#include "instance.h"
#include "jsonutil.h"
#include "logfollow.h"
#include "scan.h"
#include "status.h"
#include "log.h"
#include "manager.h"
#include "proto.h"

/* Bounds on what unprivileged users (tyrant mode) hold: connections in all, and per user.
 * Root and the emperor's user are not counted against them (they have their own bound), so
 * nobody else can lock them out. */
#define CONTROL_MAX_CLIENTS 64
#define CONTROL_MAX_PER_UID 8
#define CONTROL_MAX_PRIVILEGED 64
/* A client that sends nothing (or reads nothing we queued) for this long is closed. */
#define CONTROL_IDLE_USEC (15 * 1000000ULL)
/* A client that does not read its replies is dropped past this. */
#define CONTROL_MAX_OUT (16 * 1024 * 1024)
/* Log tails (log-follow): at most this many in all; one pauses while its client has more
 * than CONTROL_TAIL_BEHIND bytes unread, and starts with at most CONTROL_TAIL_LINES lines. */
#define CONTROL_MAX_TAILS 16
#define CONTROL_TAIL_BEHIND (256 * 1024)
#define CONTROL_TAIL_LINES 1000

typedef struct Tail Tail;

typedef struct Client Client;
typedef struct Wait Wait;
struct Client {
        Control *control;
        Client *next;
        int fd;
        struct ucred cred;
        bool privileged; /* root or the emperor's user */
        sd_event_source *io;
        sd_event_source *idle; /* closes it after CONTROL_IDLE_USEC without progress */
        char in[PROTO_MAX_LINE];
        size_t in_len;
        char *out;
        size_t out_len, out_off;
        bool closing; /* close once the output is flushed */
        Tail *tails;  /* its log-follow streams */
        Wait *wait;   /* a request with "wait": its reply is to come; nothing more is read */
};

struct Control {
        Manager *m;
        int fd;
        char *path;
        Acceptor *acceptor;
        Client *clients;
        unsigned n_tails;
};

static void tails_free(Client *cl);
static void tails_resume(Client *cl);
static void wait_free(Wait *w);

static void client_free(Client *cl) {
        Control *c = cl->control;
        wait_free(cl->wait);
        for (Client **pp = &c->clients; *pp; pp = &(*pp)->next)
                if (*pp == cl) {
                        *pp = cl->next;
                        break;
                }
        acceptor_client_gone(c->acceptor);
        tails_free(cl);
        sd_event_source_disable_unref(cl->io);
        sd_event_source_disable_unref(cl->idle);
        safe_close(cl->fd);
        free(cl->out);
        free(cl);
}

static int on_client_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Client *cl = userdata;
        (void) s;
        (void) usec;
        log_debug("control: closing a client of uid %u idle for %llu s", (unsigned) cl->cred.uid,
                  CONTROL_IDLE_USEC / 1000000);
        client_free(cl);
        return 0;
}

/* The client did something (sent, or read what we sent): its idle time starts again. */
static void client_busy(Client *cl) {
        (void) sd_event_source_set_time_relative(cl->idle, CONTROL_IDLE_USEC);
        (void) sd_event_source_set_enabled(cl->idle, SD_EVENT_ONESHOT);
}

static void client_queue(Client *cl, cJSON *reply) {
        char *text = cJSON_PrintUnformatted(reply);
        cJSON_Delete(reply);
        if (!text) {
                cl->closing = true;
                return;
        }
        size_t n = strlen(text);
        if (cl->out_len - cl->out_off + n + 1 > CONTROL_MAX_OUT) {
                free(text);
                cl->closing = true;
                return;
        }
        char *o = realloc(cl->out, cl->out_len + n + 1);
        if (!o) {
                free(text);
                cl->closing = true;
                return;
        }
        memcpy(o + cl->out_len, text, n);
        o[cl->out_len + n] = '\n';
        cl->out = o;
        cl->out_len += n + 1;
        free(text);
}

/* {"ok":false,"code":CODE,"error":TEXT}, or with code NULL {"ok":true,"message":TEXT}. */
static cJSON *reply_new(const char *code, const char *fmt, va_list ap) _printf_(2, 0);
static cJSON *reply_new(const char *code, const char *fmt, va_list ap) {
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddBoolToObject(r, "ok", !code);
        if (code)
                cJSON_AddStringToObject(r, "code", code);
        cJSON_AddStringToObject(r, code ? "error" : "message", msg);
        return r;
}

static cJSON *reply_error(const char *code, const char *fmt, ...) _printf_(2, 3);
static cJSON *reply_error(const char *code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        cJSON *r = reply_new(code, fmt, ap);
        va_end(ap);
        return r;
}

static cJSON *reply_message(const char *fmt, ...) _printf_(1, 2);
static cJSON *reply_message(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        cJSON *r = reply_new(NULL, fmt, ap);
        va_end(ap);
        return r;
}

/* Root and the emperor's user may do anything; in tyrant mode a user owns the vassals whose
 * ini they own. */
static bool may_all(const Control *c, const struct ucred *cred) {
        return cred->uid == 0 || cred->uid == manager_uid(c->m);
}

static bool may_act(const Control *c, const struct ucred *cred, const Instance *i) {
        return may_all(c, cred) || (manager_tyrant(c->m) && instance_owner(i) == cred->uid);
}

/* ---- the commands (lib/proto.c says which exist and what they take; this table, what each
 * does here) ---- */

typedef struct ControlCall {
        Control *c;
        Client *client;
        const struct ucred *cred;
        const ProtoRequest *req;
        Instance *target; /* the named vassal, NULL for none */
} ControlCall;

typedef struct ControlCommand ControlCommand;
struct ControlCommand {
        const char *name;
        cJSON *(*handle)(const ControlCall *call, const ControlCommand *cmd);
        /* A vassal action: what it calls and what the reply says it is doing. */
        int (*act)(Instance *i, const char **ret_error);
        const char *doing;
        const char *done; /* with wait: what the reply says it did */
};

/* ---- wait: the reply once the action has finished ----
 *
 * The client's request is answered when every vassal it acts on has told its outcome
 * (instance.h's watches): the new process ready, or stopped; or the failure with the
 * vassal's error. No polling and no timer of ours: each outcome comes from the state
 * machine, and its own deadlines (ready-timeout, reload-mercy then SIGKILL) bound them. A
 * client that wants to give up sooner closes the connection (emperorctl --timeout). */

typedef struct WaitOne {
        InstanceWatch watch; /* first: the watch is the WaitOne */
        Wait *wait;
        Instance *inst;   /* NULL once told (its watch removed) */
        unsigned attempt; /* the attempts begun before the command: it waits for a later one */
        bool ok;
        char *error;
        char *name;
        pid_t pid;
} WaitOne;

struct Wait {
        Client *cl;
        const ControlCommand *cmd;
        bool acting; /* still in the command: the reply goes out once it returns */
        size_t n, left;
        WaitOne ones[];
};

static void wait_free(Wait *w) {
        if (!w)
                return;
        for (size_t k = 0; k < w->n; k++) {
                if (w->ones[k].inst)
                        instance_watch_remove(w->ones[k].inst, &w->ones[k].watch);
                free(w->ones[k].error);
                free(w->ones[k].name);
        }
        free(w);
}

/* The one reply for all: ok when each one is, else the failures, one vassal a line. */
static cJSON *wait_reply(const Wait *w) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0, failed = 0;
        const WaitOne *first = &w->ones[0];
        FILE *f = open_memstream(&text, &size);
        cJSON *r = cJSON_CreateObject();

        if (!f || !r) {
                if (f)
                        fclose(f);
                cJSON_Delete(r);
                return NULL;
        }
        for (size_t k = 0; k < w->n; k++)
                failed += !w->ones[k].ok;
        if (w->n == 1 && failed)
                fprintf(f, "%s '%s' failed: %s", w->cmd->name, first->name,
                        strempty(first->error));
        else if (w->n == 1 && first->pid > 0)
                fprintf(f, "%s '%s' (pid %d)", w->cmd->done, first->name, (int) first->pid);
        else if (w->n == 1)
                fprintf(f, "%s '%s'", w->cmd->done, first->name);
        else if (failed) {
                fprintf(f, "%s failed for %zu of %zu vassal(s):", w->cmd->name, failed, w->n);
                for (size_t k = 0; k < w->n; k++)
                        if (!w->ones[k].ok)
                                fprintf(f, "\n'%s': %s", w->ones[k].name,
                                        strempty(w->ones[k].error));
        } else
                fprintf(f, "%s %zu vassal(s)", w->cmd->done, w->n);
        if (fclose(f) != 0 || !text) {
                cJSON_Delete(r);
                return NULL;
        }
        cJSON_AddBoolToObject(r, "ok", failed == 0);
        if (failed)
                cJSON_AddStringToObject(r, "code", PROTO_E_FAILED);
        cJSON_AddStringToObject(r, failed ? "error" : "message", text);
        if (w->n == 1 && !failed && first->pid > 0)
                cJSON_AddNumberToObject(r, "pid", first->pid);
        return r;
}

/* Every outcome is in: the reply is queued, and the client is read again (its buffered
 * requests are handled on the next turn of on_client(), which the queued reply brings:
 * never from inside the state machine that told us). */
static void wait_finish(Wait *w) {
        Client *cl = w->cl;
        cJSON *reply = wait_reply(w);

        cl->wait = NULL;
        wait_free(w);
        if (reply)
                client_queue(cl, reply);
        else
                cl->closing = true;
        client_busy(cl);
        (void) sd_event_source_set_io_events(cl->io, EPOLLIN | EPOLLOUT);
}

static void wait_one_done(WaitOne *one, Instance *i, bool ok, const char *error) {
        Wait *w = one->wait;

        instance_watch_remove(i, &one->watch);
        one->inst = NULL;
        one->ok = ok;
        one->pid = ok ? instance_pid(i, NULL) : 0;
        if (!ok)
                one->error = strdup(error ?: "failed");
        if (--w->left == 0 && !w->acting)
                wait_finish(w);
}

/* What ends the wait of each command: see InstanceOutcome in instance.h. */
static void on_wait_tell(InstanceWatch *watch, Instance *i, InstanceOutcome o, unsigned attempt,
                         bool restarting, const char *error) {
        WaitOne *one = (WaitOne *) watch;
        const char *cmd = one->wait->cmd->name;
        bool stop = streq(cmd, "stop"), chain = streq(cmd, "chain-reload");
        bool later = attempt > one->attempt;

        switch (o) {
        case INSTANCE_UP:
                if (!stop && !chain && later)
                        wait_one_done(one, i, true, NULL);
                break;
        case INSTANCE_FAILED:
                if (!stop && (chain || later))
                        wait_one_done(one, i, false, error);
                break;
        case INSTANCE_STOPPED:
                if (stop || !restarting)
                        wait_one_done(one, i, stop, "stopped meanwhile");
                break;
        case INSTANCE_CHAINED:
                if (chain)
                        wait_one_done(one, i, true, NULL);
                break;
        case INSTANCE_GONE:
                wait_one_done(one, i, stop,
                              "no longer supervised (its ini is gone, or the emperor left)");
                break;
        }
}

/* A wait for n vassals, on the client: NULL on OOM. */
static Wait *wait_new(Client *cl, const ControlCommand *cmd, size_t n) {
        Wait *w = calloc(1, sizeof(Wait) + MAX(n, (size_t) 1) * sizeof(WaitOne));
        if (!w)
                return NULL;
        w->cl = cl;
        w->cmd = cmd;
        w->acting = true;
        cl->wait = w;
        (void) sd_event_source_set_enabled(cl->idle, SD_EVENT_OFF);
        return w;
}

/* Watches i, then acts on it: its outcome may come before act returns (a stop of a vassal
 * with nothing running). */
static void wait_act(Wait *w, const ControlCommand *cmd, Instance *i) {
        WaitOne *one = &w->ones[w->n++];
        const char *error = NULL;

        *one = (WaitOne) { .watch.tell = on_wait_tell, .wait = w, .inst = i,
                           .attempt = instance_attempt(i), .name = strdup(instance_name(i)) };
        w->left++;
        instance_watch_add(i, &one->watch);
        if (cmd->act(i, &error) < 0) {
                wait_one_done(one, i, false, error);
                return;
        }
        log_notice("control: %s '%s' (waiting)", cmd->name, instance_name(i));
}

/* Ends the command: the reply now, when everything is done already; else NULL, it comes
 * later. */
static cJSON *wait_acted(Wait *w) {
        cJSON *r;

        w->acting = false;
        if (w->left > 0)
                return NULL;
        r = wait_reply(w);
        w->cl->wait = NULL;
        client_busy(w->cl);
        wait_free(w);
        return r ?: reply_error(PROTO_E_FAILED, "out of memory");
}

static cJSON *act_one(const ControlCommand *cmd, Instance *i) {
        const char *error = NULL;

        if (cmd->act(i, &error) < 0)
                return reply_error(PROTO_E_FAILED, "%s '%s': %s", cmd->name, instance_name(i),
                                   strempty(error));
        log_notice("control: %s '%s'", cmd->name, instance_name(i));
        return reply_message("%s '%s'", cmd->doing, instance_name(i));
}

/* --all acts on the vassals that run. */
static bool all_takes(const Instance *i) {
        InstanceState s = instance_state(i);
        return s == STATE_RUNNING || s == STATE_RELOADING || s == STATE_STARTING;
}

/* reload, chain-reload, restart, stop, start: of the named vassal, or with --all of every one
 * the caller may act on that runs. */
static cJSON *cmd_act(const ControlCall *call, const ControlCommand *cmd) {
        Manager *m = call->c->m;
        unsigned n = 0;

        if (manager_stopping(m))
                return reply_error(PROTO_E_FAILED, "the emperor is stopping");
        if (!call->target && !call->req->all)
                return reply_error(PROTO_E_USAGE, "usage: %s", call->req->command->usage);
        if (call->req->wait) {
                size_t total = call->target ? 1 : manager_size(m);
                Wait *w = wait_new(call->client, cmd, total);
                if (!w)
                        return reply_error(PROTO_E_FAILED, "out of memory");
                if (call->target)
                        wait_act(w, cmd, call->target);
                /* Acting on one may remove others (never: a command frees no instance), and
                 * the list is walked once. */
                for (Instance *i = call->target ? NULL : manager_first(m); i && w->n < total;
                     i = manager_next(m, i))
                        if (may_act(call->c, call->cred, i) && all_takes(i))
                                wait_act(w, cmd, i);
                return wait_acted(w);
        }
        if (call->target)
                return act_one(cmd, call->target);
        for (Instance *i = manager_first(m); i; i = manager_next(m, i)) {
                if (!may_act(call->c, call->cred, i) || !all_takes(i))
                        continue;
                cJSON_Delete(act_one(cmd, i));
                n++;
        }
        return reply_message("%s %u vassal(s)", cmd->name, n);
}

static cJSON *cmd_status(const ControlCall *call, const ControlCommand *cmd) {
        cJSON *r = cJSON_CreateObject();
        (void) cmd;

        cJSON_AddTrueToObject(r, "ok");
        cJSON *list = cJSON_AddArrayToObject(r, "vassals");
        if (call->target)
                cJSON_AddItemToArray(list, status_json(call->target, true));
        else {
                for (Instance *i = manager_first(call->c->m); i; i = manager_next(call->c->m, i))
                        if (may_act(call->c, call->cred, i))
                                cJSON_AddItemToArray(list, status_json(i, call->req->detail));
                /* Files of the conf dir that are not vassals, and why: root's to see (a
                 * tyrant's user sees only theirs, which a file name cannot tell). */
                size_t n;
                const ScanIgnored *ig = manager_ignored(call->c->m, &n);
                if (n > 0 && may_all(call->c, call->cred)) {
                        cJSON *a = cJSON_AddArrayToObject(r, "ignored");
                        for (size_t k = 0; a && k < n; k++) {
                                cJSON *o = cJSON_CreateObject();
                                if (!o || !cJSON_AddItemToArray(a, o)) {
                                        cJSON_Delete(o);
                                        break;
                                }
                                cJSON_AddStringToObject(o, "file", ig[k].file);
                                cJSON_AddStringToObject(o, "reason", ig[k].reason);
                        }
                }
        }
        return r;
}

/* The emperor's own binary, re-executed: root's (or the emperor user's) only. The reply goes
 * out before the loop ends; the new emperor adopts every vassal (runstate.h). */
static cJSON *cmd_upgrade(const ControlCall *call, const ControlCommand *cmd) {
        Manager *m = call->c->m;
        (void) cmd;

        if (!may_all(call->c, call->cred))
                return reply_error(PROTO_E_PERMISSION, "permission denied");
        if (manager_stopping(m))
                return reply_error(PROTO_E_FAILED, "the emperor is stopping");
        log_notice("control: upgrade");
        manager_detach(m, true);
        return reply_message("upgrading: the emperor re-executes itself, %zu vassal(s) keep "
                             "running", manager_size(m));
}

/* The conf dir, scanned now: what SIGHUP does (`systemctl reload emperor`). */
static cJSON *cmd_rescan(const ControlCall *call, const ControlCommand *cmd) {
        Manager *m = call->c->m;
        (void) cmd;

        if (!may_all(call->c, call->cred))
                return reply_error(PROTO_E_PERMISSION, "permission denied");
        if (manager_stopping(m))
                return reply_error(PROTO_E_FAILED, "the emperor is stopping");
        log_notice("control: rescan");
        manager_rescan(m);
        return reply_message("rescanned the conf dir: %zu vassal(s)", manager_size(m));
}

static const ControlCommand control_commands[] = {
        { "status", cmd_status, NULL, NULL, NULL },
        { "reload", cmd_act, instance_cmd_reload, "reloading", "reloaded" },
        { "chain-reload", cmd_act, instance_cmd_chain_reload, "chain-reloading",
          "chain-reloaded" },
        { "restart", cmd_act, instance_cmd_restart, "restarting", "restarted" },
        { "stop", cmd_act, instance_cmd_stop, "stopping", "stopped" },
        { "start", cmd_act, instance_cmd_start, "starting", "started" },
        { "rescan", cmd_rescan, NULL, NULL, NULL },
        { "upgrade", cmd_upgrade, NULL, NULL, NULL },
};

static const ControlCommand *control_command(const char *name) {
        for (size_t k = 0; k < ELEMENTSOF(control_commands); k++)
                if (streq(control_commands[k].name, name))
                        return &control_commands[k];
        return NULL;
}

static cJSON *handle(Client *cl, const char *line) {
        Control *c = cl->control;
        const struct ucred *cred = &cl->cred;
        Manager *m = c->m;
        ProtoRequest req;
        const char *code;
        char error[256];

        if (proto_request_parse(line, &req, &code, error, sizeof(error)) < 0)
                return reply_error(code, "%s", error);
        const ControlCommand *cmd = control_command(req.command->name);
        const char *name = req.vassal[0] ? req.vassal : NULL;

        /* A command of the protocol that this emperor does not carry out. */
        if (!cmd)
                return reply_error(PROTO_E_BAD_REQUEST, "command '%s' is not served here",
                                   req.command->name);
        if (!may_all(c, cred) && !manager_tyrant(m))
                return reply_error(PROTO_E_PERMISSION, "permission denied");

        ControlCall call = { .c = c, .client = cl, .cred = cred, .req = &req };
        if (name) {
                call.target = proto_name_valid(name) ? manager_find(m, name) : NULL;
                /* In tyrant mode another user's vassal does not exist, as far as you can tell. */
                if (!call.target || !may_act(c, cred, call.target)) {
                        /* The closest name the caller may see: "did you mean ...?". */
                        const char *close = NULL;
                        size_t best = SIZE_MAX;
                        for (Instance *i = manager_first(m); i; i = manager_next(m, i)) {
                                size_t d = may_act(c, cred, i)
                                                   ? conf_name_distance(name, instance_name(i))
                                                   : SIZE_MAX;
                                if (d < best) {
                                        best = d;
                                        close = instance_name(i);
                                }
                        }
                        return close ? reply_error(PROTO_E_NO_SUCH_VASSAL,
                                                  "no vassal named '%.128s'; did you mean "
                                                  "'%s'?", name, close)
                                     : reply_error(PROTO_E_NO_SUCH_VASSAL,
                                                   "no vassal named '%.128s'", name);
                }
        }
        return cmd->handle(&call, cmd);
}

static void client_flush(Client *cl) {
        while (cl->out_off < cl->out_len) {
                ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        cl->closing = true;
                        cl->out_off = cl->out_len;
                        break;
                }
                cl->out_off += n;
                client_busy(cl);
        }
        if (cl->out_off == cl->out_len)
                cl->out_off = cl->out_len = 0;
        /* While a reply is awaited, nothing is read (a peer that hangs up still shows, as
         * EPOLLHUP, which epoll always reports). */
        uint32_t in = cl->wait ? 0 : EPOLLIN;
        (void) sd_event_source_set_io_events(cl->io, cl->out_len > 0 ? in | EPOLLOUT : in);
        if (cl->out_len == 0 && cl->tails && !cl->closing)
                tails_resume(cl);
}

/* ---- log-follow: the dashboard's log tail ----
 *
 * emperor-web runs as an unprivileged user, and a vassal's log may be readable only by root
 * or the vassal's user, so the emperor reads it for it: with the same follower as
 * `emperorctl logs -f` (lib/logfollow.h), streaming what it reads on the control connection
 * that asked. (Passing the open file with SCM_RIGHTS would not survive a rotation: the new
 * file, and the backups made between two looks, would need a new open each, by a process
 * that may read the directory.) These two commands stream, so they are not in the
 * request-reply table (lib/proto.h):
 *
 *   {"v":1,"cmd":"log-follow","vassal":NAME,"id":K,"lines":N}
 *       -> {"ok":true,"id":K,"path":P}, then {"event":"log","id":K,"data":TEXT} as the log
 *          grows (bytes, not cut at lines), and {"event":"log","id":K,"end":true,"error":E}
 *          if following fails
 *   {"v":1,"cmd":"log-unfollow","id":K}  -> {"ok":true}
 *
 * K is the caller's (a positive integer, unique on its connection), so it can unfollow a
 * tail whose reply it has not read yet. The caller must be allowed to act on the vassal
 * (may_act(): root and the emperor's user, or in --tyrant mode the ini's owner); emperor-web
 * connects as root and applies the same rule for its HTTP caller. Bounded: CONTROL_MAX_TAILS
 * in all; a tail reads on only while its client has read what it got (CONTROL_TAIL_BEHIND),
 * so a chatty log costs the emperor a bounded copy per loop iteration, never a wait; tails
 * end with their connection. */

struct Tail {
        Client *client;
        Tail *next;
        double id;
        LogFollow *follow;
        sd_event_source *io;
        bool paused;
};

static Tail *tail_free(Tail *t) {
        if (!t)
                return NULL;
        t->client->control->n_tails--;
        sd_event_source_disable_unref(t->io);
        logfollow_free(t->follow);
        free(t);
        return NULL;
}

static void tail_unlink(Tail *t) {
        for (Tail **pp = &t->client->tails; *pp; pp = &(*pp)->next)
                if (*pp == t) {
                        *pp = t->next;
                        break;
                }
        tail_free(t);
}

static void tails_free(Client *cl) {
        while (cl->tails) {
                Tail *t = cl->tails;
                cl->tails = t->next;
                tail_free(t);
        }
}

/* Appends a line to cl's output without the CONTROL_MAX_OUT check: a tail pauses long
 * before that. Returns 0 or -ENOMEM. */
static int client_append(Client *cl, cJSON *j) {
        _cleanup_free_ char *text = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!text)
                return -ENOMEM;
        size_t n = strlen(text);
        char *o = realloc(cl->out, cl->out_len + n + 1);
        if (!o)
                return -ENOMEM;
        memcpy(o + cl->out_len, text, n);
        o[cl->out_len + n] = '\n';
        cl->out = o;
        cl->out_len += n + 1;
        return 0;
}

static cJSON *tail_event(double id) {
        cJSON *j = cJSON_CreateObject();
        if (j && (!cJSON_AddStringToObject(j, "event", "log") ||
                  !cJSON_AddNumberToObject(j, "id", id))) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* The follower's writer: the bytes as one event. A NUL would end the JSON string early. */
static int tail_write(const char *data, size_t len, void *userdata) {
        Tail *t = userdata;
        Client *cl = t->client;
        _cleanup_free_ char *text = malloc(len + 1);
        cJSON *j = tail_event(t->id);

        if (!text || !j) {
                cJSON_Delete(j);
                return -ENOMEM;
        }
        for (size_t k = 0; k < len; k++)
                text[k] = data[k] ? data[k] : ' ';
        text[len] = 0;
        if (!cJSON_AddStringToObject(j, "data", text)) {
                cJSON_Delete(j);
                return -ENOMEM;
        }
        int r = client_append(cl, j);
        if (r < 0)
                return r;
        return cl->out_len - cl->out_off > CONTROL_TAIL_BEHIND;
}

/* A step of t's follower; on failure the client is told and the tail ends. */
static void tail_step(Tail *t) {
        int r = logfollow_step(t->follow);
        t->paused = r == -EAGAIN;
        if (r >= 0 || r == -EAGAIN)
                return;
        log_debug("control: log tail %.0f: %s", t->id, strerror(-r));
        cJSON *j = tail_event(t->id);
        if (j)
                cJSON_AddTrueToObject(j, "end");
        if (j)
                cJSON_AddStringToObject(j, "error", strerror(-r));
        (void) client_append(t->client, j);
        tail_unlink(t);
}

/* cl read all it had: the paused tails read on. */
static void tails_resume(Client *cl) {
        for (Tail *t = cl->tails, *next; t; t = next) {
                next = t->next;
                if (t->paused)
                        tail_step(t);
        }
        if (cl->out_len > 0)
                (void) sd_event_source_set_io_events(cl->io, EPOLLIN | EPOLLOUT);
}

static int on_tail_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Tail *t = userdata;
        Client *cl = t->client;
        (void) s;
        (void) fd;
        (void) revents;

        int r = logfollow_events(t->follow);
        if (r < 0) {
                cJSON *j = tail_event(t->id);
                if (j)
                        cJSON_AddTrueToObject(j, "end");
                if (j)
                        cJSON_AddStringToObject(j, "error", r == -ENOENT
                                                ? "the log's directory was removed or moved"
                                                : strerror(-r));
                (void) client_append(cl, j);
                tail_unlink(t);
        } else if (r > 0 && !t->paused)
                tail_step(t);
        if (cl->out_len > 0)
                (void) sd_event_source_set_io_events(cl->io, EPOLLIN | EPOLLOUT);
        return 0;
}

static cJSON *log_follow(Client *cl, const cJSON *req, double id) {
        Control *c = cl->control;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "vassal"));
        const cJSON *jlines = cJSON_GetObjectItemCaseSensitive(req, "lines");
        double lines = cJSON_IsNumber(jlines) ? jlines->valuedouble : 10;
        Instance *i = name && proto_name_valid(name) ? manager_find(c->m, name) : NULL;

        if (!i || !may_act(c, &cl->cred, i))
                return reply_error(PROTO_E_NO_SUCH_VASSAL, "no vassal named '%.128s'",
                                   strempty(name));
        if (!(lines >= 0 && lines <= CONTROL_TAIL_LINES))
                return reply_error(PROTO_E_USAGE, "\"lines\" must be 0 to %d",
                                   CONTROL_TAIL_LINES);
        for (Tail *t = cl->tails; t; t = t->next)
                if (t->id == id)
                        return reply_error(PROTO_E_USAGE, "log tail %.0f exists", id);
        if (c->n_tails >= CONTROL_MAX_TAILS)
                return reply_error(PROTO_E_FAILED, "too many log tails (%d)", CONTROL_MAX_TAILS);

        /* Where the running vassal said it logs, else where its ini says (as the vassal reads
         * it: with EMPEROR_VASSAL, which the emperor gives it). */
        const VassalStats *vs = instance_stats(i);
        _cleanup_(logfollow_source_done) LogFollowSource src = {};
        _cleanup_free_ char *error = NULL;
        const char *old = getenv("EMPEROR_VASSAL");
        _cleanup_free_ char *saved = old ? strdup(old) : NULL;
        (void) setenv("EMPEROR_VASSAL", name, 1);
        int r = logfollow_source_load(instance_path(i), vs && vs->log_path ? vs->log_path : NULL,
                                      &src, &error);
        if (saved)
                (void) setenv("EMPEROR_VASSAL", saved, 1);
        else
                (void) unsetenv("EMPEROR_VASSAL");
        if (r == -EADDRNOTAVAIL)
                return reply_error(PROTO_E_FAILED, "the log '%s' is relative to where the vassal "
                                   "was started, and it has not said where that is",
                                   strempty(src.path));
        if (r < 0)
                return reply_error(PROTO_E_FAILED, "its ini does not load: %s",
                                   error ? error : strerror(-r));
        if (!src.path)
                return reply_error(PROTO_E_FAILED, "it has no logto: it logs to the emperor's "
                                   "stderr");

        Tail *t = calloc(1, sizeof(Tail));
        if (!t)
                return reply_error(PROTO_E_FAILED, "out of memory");
        *t = (Tail) { .client = cl, .id = id };
        c->n_tails++;
        r = logfollow_new(src.path, src.backupname, tail_write, t, &t->follow);
        int fd = r < 0 ? r : logfollow_watch(t->follow);
        r = fd < 0 ? fd : sd_event_add_io(manager_event(c->m), &t->io, fd, EPOLLIN, on_tail_io, t);
        if (r < 0) {
                tail_free(t);
                return reply_error(PROTO_E_FAILED, "cannot watch '%s': %s", src.path,
                                   strerror(-r));
        }
        t->next = cl->tails;
        cl->tails = t;

        /* The reply first, then the lines (the caller matches replies by their order). */
        cJSON *ok = cJSON_CreateObject();
        cJSON_AddTrueToObject(ok, "ok");
        cJSON_AddNumberToObject(ok, "id", id);
        cJSON_AddStringToObject(ok, "path", src.path);
        client_queue(cl, ok);
        r = logfollow_open(t->follow, (uint64_t) lines);
        if (r < 0) {
                cJSON *j = tail_event(id);
                if (j)
                        cJSON_AddTrueToObject(j, "end");
                if (j)
                        cJSON_AddStringToObject(j, "error", strerror(-r));
                (void) client_append(cl, j);
                tail_unlink(t);
        }
        return NULL;
}

/* log-follow and log-unfollow (above). Returns false for any other request. */
static bool control_log_request(Client *cl, const char *line) {
        /* Cheap test first: every other request goes on unparsed. */
        if (!strstr(line, "\"log-"))
                return false;
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_Parse(line);
        const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "cmd"));
        bool follow = streq_ptr(cmd, "log-follow");
        if (!follow && !streq_ptr(cmd, "log-unfollow"))
                return false;
        if (strcasestr(line, "\\u0000")) {
                client_queue(cl, reply_error(PROTO_E_BAD_REQUEST, "a NUL character"));
                return true;
        }
        const cJSON *jid = cJSON_GetObjectItemCaseSensitive(req, "id");
        if (!cJSON_IsNumber(jid) || jid->valuedouble < 1 || jid->valuedouble > 1e15 ||
            jid->valuedouble != (double) (int64_t) jid->valuedouble) {
                client_queue(cl, reply_error(PROTO_E_USAGE, "\"id\" must be a positive integer"));
                return true;
        }
        if (!follow) {
                for (Tail *t = cl->tails; t; t = t->next)
                        if (t->id == jid->valuedouble) {
                                tail_unlink(t);
                                break;
                        }
                cJSON *ok = cJSON_CreateObject();
                cJSON_AddTrueToObject(ok, "ok");
                client_queue(cl, ok);
                return true;
        }
        cJSON *reply = log_follow(cl, req, jid->valuedouble);
        if (reply)
                client_queue(cl, reply);
        return true;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Client *cl = userdata;
        (void) s;

        if (cl->wait) {
                /* Only a hang-up (or an error) comes while we wait; queued output does too. */
                if (revents & (EPOLLHUP | EPOLLERR)) {
                        client_free(cl);
                        return 0;
                }
                client_flush(cl);
                if (cl->closing && cl->out_len == 0)
                        client_free(cl);
                return 0;
        }
        if (revents & EPOLLIN && !cl->closing) {
                ssize_t n = recv(fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len,
                                 MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        client_free(cl);
                        return 0;
                }
                if (n > 0) {
                        cl->in_len += n;
                        client_busy(cl);
                }
        }
        /* The lines: also those that came while a wait held them back. A request with "wait"
         * holds the ones after it until its reply is queued. */
        while (!cl->wait && !cl->closing) {
                char *nl = memchr(cl->in, '\n', cl->in_len);
                if (!nl)
                        break;
                *nl = 0;
                size_t used = nl + 1 - cl->in;
                /* log-follow and log-unfollow stream: they queue their own replies. */
                bool streamed = control_log_request(cl, cl->in);
                cJSON *reply = streamed ? NULL : handle(cl, cl->in);
                memmove(cl->in, nl + 1, cl->in_len - used);
                cl->in_len -= used;
                if (reply)
                        client_queue(cl, reply);
                else if (!streamed && !cl->wait)
                        cl->closing = true; /* out of memory */
        }
        if (!cl->wait && cl->in_len == sizeof(cl->in)) {
                client_queue(cl, reply_error(PROTO_E_TOO_LARGE, "request longer than %d bytes",
                                             PROTO_MAX_LINE));
                cl->closing = true;
                cl->in_len = 0;
        }
        client_flush(cl);
        if (cl->closing && cl->out_len == 0)
                client_free(cl);
        return 0;
}

/* Refuses a connection with a reason, in one reply. */
static int refuse(int cfd, const char *why) {
        char line[200];
        int n = snprintf(line, sizeof(line), "{\"ok\":false,\"code\":\"failed\",\"error\":\"%s\"}\n",
                         why);
        (void) !send(cfd, line, MIN((size_t) n, sizeof(line) - 1), MSG_NOSIGNAL | MSG_DONTWAIT);
        return -EBUSY;
}

/* A new connection (lib/acceptor.c: EMFILE pauses accepting instead of spinning). Root and
 * the emperor's user get in whatever others hold; everybody else is bounded per uid and in
 * all, and told why when refused. */
static int on_accept(Acceptor *a, int cfd, void *userdata) {
        Control *c = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        unsigned same_uid = 0, others = 0, privileged = 0;
        (void) a;

        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        for (Client *cl = c->clients; cl; cl = cl->next) {
                if (cl->privileged)
                        privileged++;
                else
                        others++;
                same_uid += cl->cred.uid == cred.uid;
        }
        bool mighty = may_all(c, &cred);
        if (mighty ? privileged >= CONTROL_MAX_PRIVILEGED : others >= CONTROL_MAX_CLIENTS)
                return refuse(cfd, "too many control clients");
        if (!mighty && same_uid >= CONTROL_MAX_PER_UID) {
                log_debug("control: uid %u holds %u connections, refusing another",
                          (unsigned) cred.uid, same_uid);
                return refuse(cfd, "too many control clients of this user");
        }
        Client *cl = calloc(1, sizeof(Client));
        if (!cl)
                return -ENOMEM;
        cl->cred = cred;
        cl->privileged = mighty;
        if (sd_event_add_io(manager_event(c->m), &cl->io, cfd, EPOLLIN, on_client, cl) < 0 ||
            sd_event_add_time_relative(manager_event(c->m), &cl->idle, CLOCK_MONOTONIC,
                                       CONTROL_IDLE_USEC, 100000, on_client_idle, cl) < 0) {
                sd_event_source_disable_unref(cl->io);
                free(cl);
                return -ENOMEM;
        }
        cl->fd = cfd;
        cl->control = c;
        cl->next = c->clients;
        c->clients = cl;
        return 0;
}

int control_new(Manager *m, Control **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Control *c = calloc(1, sizeof(Control));
        int r;

        if (!c)
                return -ENOMEM;
        c->m = m;
        c->fd = -1;
        if (asprintf(&c->path, "%s/control.sock", manager_run_dir(m)) < 0) {
                c->path = NULL;
                control_free(c);
                return -ENOMEM;
        }
        if (strlen(c->path) >= sizeof(sa.sun_path)) {
                control_free(c);
                return log_error_errno(ENAMETOOLONG, "'%s/control.sock': path too long",
                                       manager_run_dir(m));
        }
        strcpy(sa.sun_path, c->path);

        /* Refuse to take over the socket of an emperor that is still running. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
                safe_close(probe);
                control_free(c);
                return log_error_errno(EADDRINUSE, "another emperor is running on '%s'",
                                       manager_run_dir(m));
        }
        safe_close(probe);

        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0) {
                r = -errno;
                control_free(c);
                return log_error_errno(r, "control socket: %m");
        }
        (void) unlink(c->path);
        mode_t old = umask(manager_tyrant(m) ? 0111 : 0117);
        r = bind(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? -errno : 0;
        umask(old);
        if (r >= 0 && listen(c->fd, 64) < 0)
                r = -errno;
        if (r >= 0)
                r = acceptor_new(manager_event(m), c->fd, NULL, on_accept, c, &c->acceptor);
        if (r < 0) {
                log_error_errno(r, "Cannot serve '%s': %m", c->path);
                control_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void control_free(Control *c) {
        if (!c)
                return;
        while (c->clients)
                client_free(c->clients);
        c->acceptor = acceptor_free(c->acceptor);
        if (c->fd >= 0 && c->path)
                (void) unlink(c->path);
        safe_close(c->fd);
        free(c->path);
        free(c);
}
