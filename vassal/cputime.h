/* SPDX-License-Identifier: MIT */
#pragma once

/* The CPU time of a vassal: the master's own and its workers', for the stats ("cpu",
 * "cpu_time": scoreboard.h). The master tells it which processes are its own (watch) and when
 * one exited (unwatch, before it is reaped: its last reading then covers its whole life), and
 * reads the total each stats interval. Workers come and go; the total only grows:
 *   - a process counts from 0 when watched right after its fork (its CPU clock starts at 0
 *     then), or from its reading at the time it was watched (a previous master's worker, after
 *     a reload: what it used before is not ours to count);
 *   - a process that is gone before it is read again keeps its last reading (a worker killed
 *     between two intervals loses at most the time since the last one);
 *   - a reading lower than the last (a reused pid, a clock we misread) is ignored.
 * Reading a process's CPU clock is two system calls; nothing here runs on the request path. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct CpuTime CpuTime;

/* The master's CPU counts from now. Returns 0 or -ENOMEM. */
int cputime_new(CpuTime **ret);
CpuTime *cputime_free(CpuTime *c);

/* pid is ours: from its fork (from_start) or from now on. A pid already watched is left as it
 * is. Out of memory it is not counted (logged at debug; statistics only). */
void cputime_watch(CpuTime *c, pid_t pid, bool from_start);
/* pid exited (a zombie, not reaped yet) or is about to be forgotten: its final CPU time is
 * read while it still can be, and kept in the total. Unknown pids are ignored. */
void cputime_unwatch(CpuTime *c, pid_t pid);

/* µs of CPU: the master since cputime_new(), every process watched (up to its unwatch), all
 * summed. Never less than the previous answer. */
uint64_t cputime_total(CpuTime *c);

/* The CPU clock of pid (0: this process), in µs; -errno when there is no such process. */
int cputime_process_usec(pid_t pid, uint64_t *ret);
