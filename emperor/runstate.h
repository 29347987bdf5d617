/* SPDX-License-Identifier: MIT */
#pragma once

/* What outlives the emperor: one file per vassal process in RUN_DIR/vassals/ (NAME.PID.json,
 * root's, 0600), written when the process is spawned and when it starts serving, removed when
 * it is gone. A new emperor (after a crash, a kill -9, `systemctl restart`, or the re-exec of
 * an upgrade) reads them to adopt the fleet that kept running (DESIGN.md: "the fleet outlives
 * its emperor"): the vassals are started without a parent-death signal, in cgroups the next
 * emperor keeps, on sockets it takes back from them with pidfd_getfd(2).
 *
 * An entry is believed only as far as the process proves it: the same boot, a process with
 * that pid whose start time is the recorded one (pid reuse), in the recorded cgroup, with our
 * vassal's environment (EMPEROR_VASSAL=NAME, our stats socket). Anything else is refused with
 * a log line and never signalled. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "scan.h"

#define RUNSTATE_SOCKS_MAX 64

typedef struct RunState {
        char *name;
        char *ini;
        pid_t pid;
        uint64_t start_ticks; /* /proc/PID/stat's starttime */
        char boot_id[40];
        bool serving;         /* READY=1 came: it is (or was) the instance's serving process */
        unsigned seq;         /* the spawn sequence number in its cgroup's name */
        char *cgroup;         /* NULL: none */
        ScanKey key;          /* the ini as it was when the process was started */
        uid_t uid;            /* the ini's owner (tyrant mode) */
        gid_t gid;
        size_t n_socks;
        char *addresses[RUNSTATE_SOCKS_MAX]; /* given as fd 3, 4, ... in this order */
} RunState;

/* The identity of pid now: its start time and this boot's id. */
int runstate_identify(pid_t pid, uint64_t *ret_start_ticks, char boot_id[40]);

int runstate_save(const char *run_dir, const RunState *s);
void runstate_remove(const char *run_dir, const char *name, pid_t pid);
/* Every entry that parses (others are logged and removed). */
int runstate_load_all(const char *run_dir, RunState **ret, size_t *ret_n);
void runstate_done(RunState *s);
void runstate_free_all(RunState *s, size_t n);

/* Checks that s names a live vassal of ours (see above). Returns a pidfd for it, or -errno
 * with the reason in why. */
int runstate_verify(const RunState *s, const char *reports_path, char *why, size_t why_size);
/* The socket the vassal holds at fd 3 + k, taken from it (pidfd_getfd), if it is bound to
 * s->addresses[k]; -errno otherwise. */
int runstate_take_socket(const RunState *s, int pidfd, size_t k);
