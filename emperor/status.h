/* SPDX-License-Identifier: MIT */
#pragma once

/* What `emperorctl status` and the HTTP API show of a vassal, as JSON (proto.h's fields). */

#include <cJSON.h>
#include <stdbool.h>

#include "instance.h"

/* The summary of a vassal; detail adds its ini, sockets, worker pids, user and last STATUS=. */
cJSON *status_json(const Instance *i, bool detail);
