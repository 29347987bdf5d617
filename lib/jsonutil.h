/* SPDX-License-Identifier: MIT */
#pragma once

/* Scope-bound cleanup for cJSON trees: _cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(...). */
#include <cJSON.h>

static inline void cJSON_Deletep(cJSON **j) {
        if (*j)
                cJSON_Delete(*j);
}
