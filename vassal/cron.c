/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"
#include "conf.h"
#include "cron.h"
#include "log.h"
#include "macro.h"

#define CRON_ENV "VASSAL_CRON_JOBS"
/* cron_next() looks this far ahead: every date that exists comes back within it (February 29
 * on a given weekday included). */
#define CRON_HORIZON_SEC (8LL * 366 * 86400)

/* ---- schedules ---- */

/* A decimal number of at most 4 digits (every field's values are small), whole string. */
static int parse_small(const char *s, int *ret) {
        size_t n = strspn(s, "0123456789");
        if (n == 0 || n > 4 || s[n])
                return -EINVAL;
        *ret = atoi(s);
        return 0;
}

/* One field of lo..hi: -1 or "*" (any), -N or "*\/N" (every N from lo), or a value. Weekday 7
 * is Sunday (hi 7 maps onto bit 0). */
static int parse_field(const char *s, int lo, int hi, uint64_t *ret_mask, bool *ret_any) {
        int v, step = 0;

        if (streq(s, "-1") || streq(s, "*")) {
                step = 1;
                *ret_any = true;
        } else if (s[0] == '-' && parse_small(s + 1, &v) >= 0)
                step = v;
        else if (s[0] == '*' && s[1] == '/' && parse_small(s + 2, &v) >= 0)
                step = v;
        else {
                if (parse_small(s, &v) < 0 || v < lo || v > hi)
                        return -EINVAL;
                *ret_mask = UINT64_C(1) << (hi == 7 && v == 7 ? 0 : v);
                *ret_any = false;
                return 0;
        }
        if (step < 1 || step > hi - lo + 1)
                return -EINVAL;
        if (step > 1)
                *ret_any = false;
        uint64_t mask = 0;
        for (int k = lo; k <= hi; k += step)
                mask |= UINT64_C(1) << (hi == 7 && k == 7 ? 0 : k);
        *ret_mask = mask;
        return 0;
}

/* The five fields, by name: minute hour day month week. */
static const struct {
        const char *name;
        int lo, hi;
} fields[5] = {
        { "minute", 0, 59 }, { "hour", 0, 23 }, { "day", 1, 31 }, { "month", 1, 12 },
        { "week", 0, 7 },
};

static int schedule_set(CronSchedule *s, size_t field, const char *value) {
        uint64_t mask;
        bool any = false;
        if (parse_field(value, fields[field].lo, fields[field].hi, &mask, &any) < 0)
                return -EINVAL;
        switch (field) {
        case 0:
                s->minutes = mask;
                break;
        case 1:
                s->hours = (uint32_t) mask;
                break;
        case 2:
                s->mdays = (uint32_t) mask;
                s->any_mday = any;
                break;
        case 3:
                s->months = (uint16_t) mask;
                break;
        default:
                s->wdays = (uint8_t) mask;
                s->any_wday = any;
                break;
        }
        return 0;
}

static void schedule_any(CronSchedule *s) {
        for (size_t i = 0; i < 5; i++)
                (void) schedule_set(s, i, "-1");
}

bool cron_matches(const CronSchedule *s, const struct tm *tm) {
        if (!(s->minutes & (UINT64_C(1) << tm->tm_min)) || !(s->hours & (1U << tm->tm_hour)) ||
            !(s->months & (1U << (tm->tm_mon + 1))))
                return false;
        bool mday = s->mdays & (1U << tm->tm_mday), wday = s->wdays & (1U << tm->tm_wday);
        if (s->any_mday && s->any_wday)
                return true;
        if (s->any_mday)
                return wday;
        if (s->any_wday)
                return mday;
        return mday || wday;
}

static bool day_matches(const CronSchedule *s, const struct tm *tm) {
        struct tm t = *tm;
        t.tm_min = __builtin_ctzll(s->minutes);
        t.tm_hour = __builtin_ctz(s->hours);
        return cron_matches(s, &t);
}

/* tm's fields, possibly out of range, to a time and back (mktime normalizes, DST included). */
static int normalize(struct tm *tm, time_t *ret) {
        tm->tm_isdst = -1;
        tm->tm_sec = 0;
        time_t t = mktime(tm);
        if (t == (time_t) -1)
                return -ERANGE;
        *ret = t;
        return 0;
}

int cron_next(const CronSchedule *s, time_t after, time_t *ret) {
        struct tm tm;
        time_t t;

        if (!s->minutes || !s->hours || !s->months || (!s->mdays && !s->wdays))
                return -ENOENT;
        if (!localtime_r(&after, &tm))
                return -ERANGE;
        tm.tm_min++;
        if (normalize(&tm, &t) < 0)
                return -ERANGE;
        /* Coarse to fine: a month that does not match is skipped whole, then days, then hours,
         * then minutes; each step is bounded, so the loop is (at most ~3,500 steps over the
         * horizon). Fields are re-read after each mktime: a DST gap may move the hour. */
        while (t - after <= CRON_HORIZON_SEC) {
                if (t <= after) /* an hour repeated by a fall-back: strictly after */
                        tm.tm_min++;
                else if (!(s->months & (1U << (tm.tm_mon + 1)))) {
                        tm.tm_mon++;
                        tm.tm_mday = 1;
                        tm.tm_hour = tm.tm_min = 0;
                } else if (!day_matches(s, &tm)) {
                        tm.tm_mday++;
                        tm.tm_hour = tm.tm_min = 0;
                } else if (!(s->hours & (1U << tm.tm_hour))) {
                        tm.tm_hour++;
                        tm.tm_min = 0;
                } else if (!(s->minutes & (UINT64_C(1) << tm.tm_min)))
                        tm.tm_min++;
                else {
                        *ret = t;
                        return 0;
                }
                if (normalize(&tm, &t) < 0)
                        return -ERANGE;
        }
        return -ENOENT;
}

void cron_entry_done(CronEntry *e) {
        e->command = mfree(e->command);
}

/* The command after the fields: the rest of the line, trimmed; never empty. */
static int take_command(const char *p, CronEntry *e, const char **ret_why) {
        p += strspn(p, " \t");
        size_t n = strlen(p);
        while (n > 0 && isspace((unsigned char) p[n - 1]))
                n--;
        if (n == 0) {
                *ret_why = "a command after the schedule";
                return -EINVAL;
        }
        e->command = strndup(p, n);
        return e->command ? 0 : -ENOMEM;
}

/* Refuses what can never run (a day that no month has). */
static int check_fires(const CronEntry *e, const char **ret_why) {
        time_t next;
        if (cron_next(&e->when, time(NULL), &next) < 0) {
                *ret_why = "a schedule that can happen (this day never comes)";
                return -EINVAL;
        }
        return 0;
}

int cron_parse(const char *value, bool unique, CronEntry *ret, const char **ret_why) {
        CronEntry e = { .unique = unique, .harakiri = -1 };
        const char *p = value;

        for (size_t i = 0; i < 5; i++) {
                char word[16];
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t");
                if (n == 0 || n >= sizeof(word)) {
                        *ret_why = "MINUTE HOUR DAY MONTH WEEKDAY COMMAND (-1: any, -N: every N)";
                        return -EINVAL;
                }
                memcpy(word, p, n);
                word[n] = 0;
                p += n;
                if (schedule_set(&e.when, i, word) < 0) {
                        *ret_why = "MINUTE HOUR DAY MONTH WEEKDAY COMMAND with minute 0-59, hour "
                                   "0-23, day 1-31, month 1-12, weekday 0-7, -1 for any and -N "
                                   "for every N";
                        return -EINVAL;
                }
        }
        int r = check_fires(&e, ret_why);
        if (r >= 0)
                r = take_command(p, &e, ret_why);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

int cron_parse2(const char *value, CronEntry *ret, const char **ret_why) {
        CronEntry e = { .harakiri = -1 };
        const char *p = value + strspn(value, " \t");
        size_t n = strcspn(p, " \t");

        schedule_any(&e.when);
        if (memchr(p, '=', n)) {
                _cleanup_free_ char *opts = strndup(p, n);
                if (!opts)
                        return -ENOMEM;
                p += n;
                if (opts[n - 1] == ',') {
                        *ret_why = "options without spaces (minute=1,hour=2 COMMAND)";
                        return -EINVAL;
                }
                char *save = NULL;
                for (char *kv = strtok_r(opts, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                        char *v = strchr(kv, '=');
                        size_t f;
                        if (!v) {
                                *ret_why = "key=value options (minute, hour, day, month, week, "
                                           "unique, harakiri) separated by commas, then the "
                                           "command";
                                return -EINVAL;
                        }
                        *v++ = 0;
                        for (f = 0; f < 5 && !streq(kv, fields[f].name); f++)
                                ;
                        if (f < 5) {
                                if (schedule_set(&e.when, f, v) < 0) {
                                        *ret_why = "minute 0-59, hour 0-23, day 1-31, month "
                                                   "1-12, week 0-7, each -1 for any or -N for "
                                                   "every N";
                                        return -EINVAL;
                                }
                        } else if (streq(kv, "unique")) {
                                if (conf_parse_bool(v, &e.unique) < 0) {
                                        *ret_why = "unique=0 or unique=1";
                                        return -EINVAL;
                                }
                        } else if (streq(kv, "harakiri")) {
                                int64_t h;
                                if (conf_parse_int(v, &h) < 0 || h < 0 || h > 86400 * 7) {
                                        *ret_why = "harakiri=SECONDS (0: none)";
                                        return -EINVAL;
                                }
                                e.harakiri = h;
                        } else if (streq(kv, "legion")) {
                                *ret_why = "no legion: legions are not supported, and this cron "
                                           "would run on every node";
                                return -EINVAL;
                        } else {
                                *ret_why = "options among minute, hour, day, month, week, unique "
                                           "and harakiri";
                                return -EINVAL;
                        }
                }
        }
        int r = check_fires(&e, ret_why);
        if (r >= 0)
                r = take_command(p, &e, ret_why);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

/* ---- the runner ---- */

typedef struct CronSlot {
        Cron *cron;
        size_t index;
        CronEntry entry;
        uint64_t hash;
        sd_event_source *timer;
        time_t scheduled; /* cron time of the armed firing */
} CronSlot;

typedef struct CronJob {
        Cron *cron;
        CronSlot *slot; /* NULL: adopted, its entry gone from the config */
        Child *child;
        pid_t pid;
        sd_event_source *harakiri_timer;
        int64_t harakiri;
} CronJob;

struct Cron {
        sd_event *event;
        CronSlot *slots;
        size_t n_slots;
        CronJob **jobs;
        size_t n_jobs;
        int log_fd;
        uint64_t mercy_usec;
        int64_t harakiri;
        bool started, stopping;
        /* The cron clock: real time, unless the test hook speeds it up from t0. */
        uint64_t speed;
        uint64_t t0_usec;
        void (*on_gone)(void *userdata);
        void *userdata;
};

static uint64_t hash_command(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * UINT64_C(1099511628211);
        return h;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static time_t cron_clock_now(const Cron *c) {
        uint64_t real = realtime_usec();
        if (c->speed <= 1)
                return (time_t) (real / 1000000);
        return (time_t) ((c->t0_usec + (real - c->t0_usec) * c->speed) / 1000000);
}

/* The real time at which the cron clock shows cron_sec (rounded up: never early). */
static uint64_t cron_clock_real(const Cron *c, time_t cron_sec) {
        uint64_t u = (uint64_t) cron_sec * 1000000;
        if (c->speed <= 1 || u <= c->t0_usec)
                return u;
        return c->t0_usec + (u - c->t0_usec + c->speed - 1) / c->speed;
}

static const char *slot_name(const CronSlot *s) {
        return s ? s->entry.command : "(a job of the previous configuration)";
}

static CronJob *job_free(CronJob *j) {
        if (!j)
                return NULL;
        j->harakiri_timer = sd_event_source_disable_unref(j->harakiri_timer);
        child_free(j->child);
        free(j);
        return NULL;
}

static void cron_remove_job(Cron *c, CronJob *j) {
        for (size_t i = 0; i < c->n_jobs; i++)
                if (c->jobs[i] == j) {
                        c->jobs[i] = c->jobs[--c->n_jobs];
                        break;
                }
        job_free(j);
        if (c->stopping && c->n_jobs == 0 && c->on_gone)
                c->on_gone(c->userdata);
}

static void on_job_exit(Child *child, const siginfo_t *si, void *userdata) {
        CronJob *j = userdata;
        (void) child;
        if (si->si_code == CLD_EXITED)
                log_full_errno(si->si_status == 0 ? LOG_INFO : LOG_WARNING, 0,
                               "cron '%s' (pid %d) exited with status %d", slot_name(j->slot),
                               j->pid, si->si_status);
        else
                log_warning("cron '%s' (pid %d) killed by signal %s", slot_name(j->slot), j->pid,
                            strsignal(si->si_status));
        cron_remove_job(j->cron, j);
}

static int on_harakiri(sd_event_source *src, uint64_t usec, void *userdata) {
        CronJob *j = userdata;
        (void) src;
        (void) usec;
        j->harakiri_timer = sd_event_source_disable_unref(j->harakiri_timer);
        log_warning("cron '%s' (pid %d) ran past its harakiri of %" PRIi64 " s: killing it",
                    slot_name(j->slot), j->pid, j->harakiri);
        (void) child_stop(j->child, SIGKILL, 0);
        return 0;
}

static int cron_add_job(Cron *c, CronJob *j) {
        CronJob **l = reallocarray(c->jobs, c->n_jobs + 1, sizeof(CronJob *));
        if (!l)
                return -ENOMEM;
        c->jobs = l;
        c->jobs[c->n_jobs++] = j;
        return 0;
}

static CronJob *slot_running(const CronSlot *s) {
        for (size_t i = 0; i < s->cron->n_jobs; i++)
                if (s->cron->jobs[i]->slot == s)
                        return s->cron->jobs[i];
        return NULL;
}

static void slot_run(CronSlot *s) {
        Cron *c = s->cron;
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", s->entry.command, NULL };

        CronJob *running = s->entry.unique ? slot_running(s) : NULL;
        if (running) {
                log_notice("unique cron '%s': its previous run (pid %d) still runs, not started",
                           s->entry.command, running->pid);
                return;
        }
        CronJob *j = calloc(1, sizeof(CronJob));
        if (!j) {
                log_oom();
                return;
        }
        *j = (CronJob) { .cron = c, .slot = s };
        ChildSpec spec = {
                .path = "/bin/sh",
                .argv = argv,
                .stdin_fd = CHILD_FD_NULL,
                .stdout_fd = c->log_fd,
                .stderr_fd = c->log_fd,
                /* Its own session: a stop or a harakiri reaches what the command forks. */
                .flags = CHILD_NEW_SESSION | CHILD_RESET_SIGNALS | CHILD_SIGNAL_GROUP,
                /* The master killed: the job dies with it (the emperor's cgroup kill gets the
                 * rest of its tree). */
                .pdeath_signal = SIGKILL,
                .on_exit = on_job_exit,
                .userdata = j,
        };
        int r = child_spawn(c->event, &spec, &j->child);
        if (r < 0) {
                free(j);
                log_error_errno(r, "cron '%s': cannot run /bin/sh: %m", s->entry.command);
                return;
        }
        j->pid = child_pid(j->child);
        if (cron_add_job(c, j) < 0) {
                log_oom();
                job_free(j); /* kills it: unwatched it would never be reaped */
                return;
        }
        log_notice("cron '%s' started (pid %d)", s->entry.command, j->pid);
        j->harakiri = s->entry.harakiri >= 0 ? s->entry.harakiri : c->harakiri;
        if (j->harakiri > 0 &&
            sd_event_add_time_relative(c->event, &j->harakiri_timer, CLOCK_MONOTONIC,
                                       (uint64_t) j->harakiri * 1000000, 0, on_harakiri, j) < 0)
                log_warning("cron '%s': cannot arm its harakiri, ignoring", s->entry.command);
}

static int on_cron_timer(sd_event_source *src, uint64_t usec, void *userdata);

/* Arms the slot's timer for its next minute after `after` (cron time). */
static void slot_arm(CronSlot *s, time_t after) {
        Cron *c = s->cron;
        time_t next;

        s->timer = sd_event_source_disable_unref(s->timer);
        if (cron_next(&s->entry.when, after, &next) < 0) {
                log_warning("cron '%s': no next time, disabled", s->entry.command);
                return;
        }
        s->scheduled = next;
        uint64_t accuracy = 100000 / (c->speed ?: 1);
        int r = sd_event_add_time(c->event, &s->timer, CLOCK_REALTIME, cron_clock_real(c, next),
                                  accuracy ?: 1, on_cron_timer, s);
        if (r < 0)
                log_error_errno(r, "cron '%s': cannot arm its timer, disabled: %m",
                                s->entry.command);
}

static int on_cron_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        CronSlot *s = userdata;
        Cron *c = s->cron;
        (void) src;
        (void) usec;

        if (c->stopping)
                return 0;
        slot_run(s);
        /* From the clock now, for jumps; never before the minute just run. */
        time_t now = cron_clock_now(c);
        slot_arm(s, now > s->scheduled ? now : s->scheduled);
        return 0;
}

/* The jobs the previous image ran, "HASH:PID,...": adopted (they are still our children),
 * each with its entry when the configuration still has it. */
static void cron_adopt(Cron *c) {
        const char *env = getenv(CRON_ENV);
        for (const char *p = env; p && *p;) {
                unsigned long long hash;
                int pid, n = 0;
                if (sscanf(p, "%llx:%d%n", &hash, &pid, &n) != 2)
                        break;
                p += n + (p[n] == ',');
                CronJob *j = calloc(1, sizeof(CronJob));
                if (!j) {
                        log_oom();
                        break;
                }
                *j = (CronJob) { .cron = c, .pid = pid };
                for (size_t i = 0; i < c->n_slots; i++)
                        if (c->slots[i].hash == hash)
                                j->slot = &c->slots[i];
                ChildSpec spec = { .flags = CHILD_SIGNAL_GROUP, .on_exit = on_job_exit,
                                   .userdata = j };
                if (child_adopt(c->event, pid, &spec, &j->child) < 0 || cron_add_job(c, j) < 0) {
                        job_free(j);
                        continue;
                }
                log_info("cron '%s' (pid %d) still running from before the reload",
                         slot_name(j->slot), pid);
        }
        (void) unsetenv(CRON_ENV);
}

int cron_new(const CronParams *p, Cron **ret) {
        const VassalConfig *cfg = p->cfg;
        _cleanup_(cron_freep) Cron *c = calloc(1, sizeof(Cron));
        if (!c)
                return log_oom();
        *c = (Cron) {
                .event = sd_event_ref(p->event),
                .log_fd = p->log_fd,
                .mercy_usec = p->mercy_usec,
                .harakiri = cfg->cron_harakiri,
                .speed = 1,
                .t0_usec = realtime_usec(),
                .on_gone = p->on_gone,
                .userdata = p->userdata,
        };
        const char *speed = getenv(CRON_TEST_SPEED_ENV);
        int64_t k;
        if (speed && conf_parse_int(speed, &k) >= 0 && k >= 1 && k <= 3600) {
                c->speed = (uint64_t) k;
                log_warning("%s=%" PRIi64 ": the cron clock runs %" PRIi64 " times too fast "
                            "(a test hook)", CRON_TEST_SPEED_ENV, k, k);
        }

        char **lists[] = { cfg->crons, cfg->unique_crons, cfg->crons2 };
        size_t n = 0;
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (char **v = lists[l]; v && *v; v++)
                        n++;
        c->slots = calloc(n ?: 1, sizeof(CronSlot));
        if (!c->slots)
                return log_oom();
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (char **v = lists[l]; v && *v; v++) {
                        CronSlot *s = &c->slots[c->n_slots];
                        const char *why = NULL;
                        int r = l == 2 ? cron_parse2(*v, &s->entry, &why)
                                       : cron_parse(*v, l == 1, &s->entry, &why);
                        if (r < 0) /* checked when the config was loaded */
                                return log_error_errno(r, "cron '%s': expected %s", *v,
                                                       strempty(why));
                        s->cron = c;
                        s->index = c->n_slots++;
                        s->hash = hash_command(s->entry.command);
                }
        cron_adopt(c);
        *ret = TAKE_PTR(c);
        return 0;
}

void cron_start(Cron *c) {
        if (!c || c->started || c->stopping)
                return;
        c->started = true;
        time_t now = cron_clock_now(c);
        for (size_t i = 0; i < c->n_slots; i++)
                slot_arm(&c->slots[i], now);
        if (c->n_slots > 0)
                log_info("cron: %zu entr%s scheduled", c->n_slots, c->n_slots == 1 ? "y" : "ies");
}

void cron_stop(Cron *c, bool graceful) {
        if (!c)
                return;
        c->stopping = true;
        for (size_t i = 0; i < c->n_slots; i++)
                c->slots[i].timer = sd_event_source_disable_unref(c->slots[i].timer);
        for (size_t i = 0; i < c->n_jobs; i++)
                (void) child_stop(c->jobs[i]->child, graceful ? SIGTERM : SIGKILL,
                                  c->mercy_usec);
}

size_t cron_alive(const Cron *c) {
        return c ? c->n_jobs : 0;
}

void cron_prepare_reload(Cron *c) {
        if (!c || c->n_jobs == 0)
                return;
        size_t size = c->n_jobs * 32 + 1, off = 0;
        _cleanup_free_ char *buf = malloc(size);
        if (!buf)
                return;
        buf[0] = 0;
        for (size_t i = 0; i < c->n_jobs; i++) {
                const CronJob *j = c->jobs[i];
                off += snprintf(buf + off, size - off, "%s%" PRIx64 ":%d", i ? "," : "",
                                j->slot ? j->slot->hash : 0, (int) j->pid);
        }
        (void) setenv(CRON_ENV, buf, 1);
}

Cron *cron_free(Cron *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_jobs; i++)
                job_free(c->jobs[i]);
        free(c->jobs);
        for (size_t i = 0; i < c->n_slots; i++) {
                sd_event_source_disable_unref(c->slots[i].timer);
                cron_entry_done(&c->slots[i].entry);
        }
        free(c->slots);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}
