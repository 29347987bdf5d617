/* SPDX-License-Identifier: MIT */
#pragma once

/* uWSGI's option-based cron, run by the vassal master:
 *
 *   cron = MIN HOUR MDAY MON WDAY COMMAND      (uWSGI: -1 is any, -N is every N: "*" and
 *                                               "*\/N" are accepted too)
 *   unique-cron = the same, not started again while its previous run lives
 *   cron2 = [minute=..,hour=..,day=..,month=..,week=..,unique=1,harakiri=N] COMMAND
 *   cron-harakiri = N                          (every run is killed after N seconds)
 *
 * -N means what crontab's * / N means: the values from the field's first one (minute 0, hour
 * 0, day 1, month 1, weekday 0) in steps of N. Day and weekday are ORed when both are
 * restricted, as in crontab. Weekdays are 0-6 from Sunday (7 is Sunday too).
 *
 * The master computes, after each run, the next wall-clock minute that matches (local time,
 * through mktime, so DST is counted: a minute skipped by a spring-forward does not run, one
 * repeated by a fall-back runs once) and arms one CLOCK_REALTIME timer for it. Recomputing
 * after every firing from the clock then is what keeps it right across clock jumps: runs
 * missed by a jump forward are not caught up, a jump back does not run one twice.
 *
 * A run is `/bin/sh -c COMMAND` in its own session (a stop and a harakiri reach what it
 * forks), its stdout and stderr into the vassal's log, its start and exit logged by the
 * master. A graceful reload keeps running jobs (the new image adopts them); a stop ends them
 * (SIGTERM to the group, SIGKILL after reload-mercy). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "config.h"

typedef struct CronSchedule {
        uint64_t minutes; /* bit n: minute n (0-59) */
        uint32_t hours;   /* 0-23 */
        uint32_t mdays;   /* 1-31 */
        uint16_t months;  /* 1-12 */
        uint8_t wdays;    /* 0-6, Sunday 0 */
        bool any_mday, any_wday; /* for the OR of day and weekday */
} CronSchedule;

typedef struct CronEntry {
        CronSchedule when;
        bool unique;
        int64_t harakiri; /* seconds; 0: none; -1: cron-harakiri's */
        char *command;
} CronEntry;

/* "MIN HOUR MDAY MON WDAY COMMAND" (cron, unique-cron). Returns 0, -ENOMEM, or -EINVAL with
 * *ret_why completing "expected ..."; a schedule that can never fire (February 30) is one. */
int cron_parse(const char *value, bool unique, CronEntry *ret, const char **ret_why);
/* "[key=value,...] COMMAND" (cron2). */
int cron_parse2(const char *value, CronEntry *ret, const char **ret_why);
void cron_entry_done(CronEntry *e);

/* Whether the broken-down local time tm (its minute) matches. */
bool cron_matches(const CronSchedule *s, const struct tm *tm);
/* The first minute strictly after `after` that matches, in local time. Returns 0, or -ENOENT
 * when none does within eight years (a date that does not exist). */
int cron_next(const CronSchedule *s, time_t after, time_t *ret);

typedef struct Cron Cron;

typedef struct CronParams {
        sd_event *event;
        const VassalConfig *cfg;
        int log_fd;          /* the jobs' stdout and stderr: the log pipe */
        uint64_t mercy_usec; /* a stop: SIGTERM to SIGKILL */
        void (*on_gone)(void *userdata); /* stopping, and the last job went */
        void *userdata;
} CronParams;

/* Parses the configured entries and adopts the jobs a previous image left running (a reload).
 * Returns 0, or -errno (logged). */
int cron_new(const CronParams *p, Cron **ret);
Cron *cron_free(Cron *c);
/* Arms the timers (once the workers are ready). Idempotent. */
void cron_start(Cron *c);
/* Disarms them and ends the running jobs: SIGTERM, SIGKILL after the mercy (graceful), or
 * SIGKILL now. */
void cron_stop(Cron *c, bool graceful);
/* Jobs still running (a stop waits for them). */
size_t cron_alive(const Cron *c);
/* Before the re-exec of a reload: tells the new image which jobs to adopt (environment). */
void cron_prepare_reload(Cron *c);

/* Test only (documented in vassal(8) as such): VASSAL_TEST_CRON_SPEED=K makes the cron's
 * clock run K times faster than the real one from the master's start, so that an integration
 * test sees minutes pass in seconds. */
#define CRON_TEST_SPEED_ENV "VASSAL_TEST_CRON_SPEED"
static inline void cron_freep(Cron **c) {
        cron_free(*c);
}
