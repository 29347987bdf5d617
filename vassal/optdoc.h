/* SPDX-License-Identifier: MIT */
#pragma once

/* The ini keys' reference, generated from the option table: "man" (man/emperor-ini.5) or
 * "readme" (the README's "Coming from uWSGI" table) on stdout. Returns 0, or -EINVAL for
 * another format. */
int optdoc_print(const char *format);
