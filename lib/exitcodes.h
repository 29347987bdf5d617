/* SPDX-License-Identifier: MIT */
#pragma once

/* Exit codes shared by the emperor and its vassals.
 *   0          clean stop
 *   1          runtime failure: respawn with backoff
 *   EX_CONFIG  (78) bad config or an app that fails to import: no respawn until the config
 *              file changes (nginx's exit 2, s6's finish 125) */
#include <sysexits.h>

#define EXIT_RUNTIME 1
