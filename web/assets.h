/* SPDX-License-Identifier: MIT */
#pragma once

/* The dashboard's files (web/assets/, and uPlot from node_modules), compiled into emperor-web
 * at build time (web/gen-assets.sh writes the table): the page works offline and one binary
 * is all there is to install. Only these names are served: a path cannot reach anything else. */

#include <stddef.h>

typedef struct Asset {
        const char *name; /* "index.html", "uPlot.min.js" */
        const char *type; /* Content-Type */
        const unsigned char *data;
        size_t len;
} Asset;

/* NULL when there is no such asset. */
const Asset *asset_find(const char *name);
