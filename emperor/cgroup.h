/* SPDX-License-Identifier: MIT */
#pragma once

/* A cgroup (v2) per vassal process where the system lets us make them: stopping a vassal then
 * kills its whole tree, grandchildren that left its process group included, so nothing keeps
 * its port. Callers kill the process group too: a child that could not join its group (no
 * permission) is still caught. */

#include <stdbool.h>
#include <sys/types.h>

/* Finds our own cgroup v2 directory and makes "emperor-HASH" below it (HASH of the run dir).
 * Returns the path (malloc'd) or NULL when cgroups are not available to us (logged at debug
 * level). Stale vassal groups left by a previous emperor on the same run dir are killed and
 * removed, but those in keep (adopted vassals'). */
char *cgroup_setup(const char *run_dir, char *const *keep, size_t n_keep);

/* Makes root/NAME; returns the path or NULL. */
char *cgroup_create(const char *root, const char *name);
/* SIGKILLs every process in the group (cgroup.kill, else one by one). */
void cgroup_kill(const char *path);
/* Removes the group; -EBUSY while processes remain. */
int cgroup_remove(const char *path);
bool cgroup_empty(const char *path);
