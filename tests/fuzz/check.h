/* SPDX-License-Identifier: MIT */
#pragma once

/* What every fuzz target checks with: not assert(), which NDEBUG would take away. */
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                      \
        do {                                                                          \
                if (!(x)) {                                                           \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
                        abort();                                                      \
                }                                                                     \
        } while (0)
