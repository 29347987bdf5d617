/* SPDX-License-Identifier: MIT */
#pragma once

/* Process titles, as `ps` and `top` show them: "vassal hello master", "vassal hello worker 2",
 * "emperor". Two places hold a process's name:
 *   - comm (/proc/PID/comm, `ps -o comm`, `top`): prctl(PR_SET_NAME), 15 bytes at most;
 *   - the command line (/proc/PID/cmdline, `ps -f`, `pgrep -f`): the bytes of the argv
 *     strings, which the kernel reads from the process's memory. A title is written there,
 *     over the original arguments.
 * Only the argv strings' own bytes are used, never the environment's that follow them (as
 * setproctitle() implementations do to make room): /proc/PID/environ reads that memory, and
 * the emperor's adoption reads EMPEROR_VASSAL= there (emperor/runstate.c). A title longer
 * than the original command line is cut. The last byte of the area stays NUL: a command line
 * whose end is not NUL makes the kernel read on into the environment.
 *
 * The argv area is one per process, like environ: procname_init() records it in this file's
 * only state (systemd's argv-util keeps saved_argv the same way). */

#include <stdbool.h>
#include <stddef.h>

/* Called first in main(), before anything keeps a pointer into argv: copies every argument
 * to the heap and points argv[i] at the copy, so the program reads its arguments (and
 * re-executes itself with them) while the original bytes become the title's room. Returns 0
 * or -ENOMEM (argv untouched then, and titles are comm only). */
int procname_init(int argc, char **argv);

/* Sets the title: the command line (cut to the room procname_init() found) and comm, to comm
 * or with NULL to the title (cut to 15 bytes either way). Async-signal-safe, so a just-forked
 * child may call it. */
void procname_set(const char *title, const char *comm);

/* The uWSGI options that name the processes (vassal.8, PROCESS TITLES). */
typedef struct ProcnameOptions {
        bool enabled;        /* auto-procname, or any of the others given */
        const char *name;    /* the vassal's name ("hello"); NULL: none */
        const char *procname;        /* procname: the base name of every process */
        const char *master;          /* procname-master: the master's */
        const char *prefix;          /* procname-prefix, put before as given */
        const char *prefix_spaced;   /* procname-prefix-spaced, with a blank after it */
        const char *append;          /* procname-append, put after as given */
} ProcnameOptions;

/* The title of the master (worker_id 0) or of worker worker_id: prefix, the base name
 * (procname-master or procname, else "vassal NAME master" / "vassal NAME worker N"), append.
 * Returns false (buf empty) when the options ask for no title. */
bool procname_format(const ProcnameOptions *o, int worker_id, char *buf, size_t size);
