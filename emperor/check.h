/* SPDX-License-Identifier: MIT */
#pragma once

/* `vassal --check INI`: every change of an ini is validated by the vassal program itself
 * before the emperor acts on it (OpenBSD's -n). Its output is the reason when it fails. */

#include <stdbool.h>

#include "manager.h"

typedef struct Check Check;

/* The check ended: ok, or message says why not (what it printed, trimmed, or its exit
 * status). The callee frees the Check (check_free) when it likes. */
typedef void (*CheckDoneFn)(void *userdata, bool ok, const char *message);

/* Runs the check of ini for inst (its pid is inst's in the manager's index). Returns 0, or
 * -errno with nothing running. */
int check_start(Manager *m, Instance *inst, const char *ini, CheckDoneFn done, void *userdata,
                Check **ret);
/* Kills it: done still runs, when it has died. */
void check_kill(Check *c);
/* Forgets it (done will not run); NULL-safe, returns NULL. */
Check *check_free(Check *c);
