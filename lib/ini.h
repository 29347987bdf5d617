/* SPDX-License-Identifier: MIT */
#pragma once

/* The uWSGI-compatible ini language: read one section of a file into an ordered list of
 * key/value entries, each remembering where it came from (file:line) for diagnostics.
 *
 *   [uwsgi]                 ; the default section; [vassal] is read too. FILE:SECTION picks one
 *   project = site1         ; any key, including ones no module knows, can be referenced later
 *   chdir = %(base)/%(project)
 *   wsgi-file = %dapp.py    ; %d dir of the ini WITH a trailing slash (as uWSGI), %n name
 *                           ; without .ini, %p absolute path, %s file name, %% a percent sign,
 *                           ; $(VAR) environment variable
 *   uid = www-data  # note  ; a comment after whitespace is stripped, with a warning
 *
 * Comment lines start with ';' or '#'. Repeated keys accumulate (the list keeps every entry in
 * file order); a %(key) reference takes the latest value seen so far. Values are trimmed;
 * matching surrounding double quotes are removed. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef enum IniLevel {
        INI_WARNING,
        INI_ERROR,
} IniLevel;

/* Receives every diagnostic. file and line say where (line 0: not from a file line, e.g. the
 * command line). The message has no "file:line: " prefix and no trailing newline. */
typedef void (*IniDiagFunc)(void *userdata, IniLevel level, const char *file, unsigned line,
                            const char *message);

typedef struct IniEntry {
        char *key;
        char *value; /* after interpolation */
        const char *file; /* points into the owning Ini's origin strings */
        unsigned line;
        bool referenced; /* a later value used it through %(key) */
} IniEntry;

typedef struct Ini Ini;

Ini *ini_new(void);
Ini *ini_free(Ini *ini);
static inline void ini_freep(Ini **ini) {
        if (*ini)
                ini_free(*ini);
}

/* Reads `section` of the file at path_spec, which may be "FILE" or "FILE:SECTION" (a section
 * suffix is only recognised when FILE without it exists or the suffix has no '/').
 * section NULL means "uwsgi" and "vassal". Sets the file for magic variables (%d %n %p %s).
 * Returns 0; -errno when the file cannot be read (reported through diag); -EINVAL on a syntax
 * or interpolation error (reported, with file:line). Warnings do not fail. A file with no
 * matching section is an error ("no [uwsgi] section"). */
int ini_load_file(Ini *ini, const char *path_spec, IniDiagFunc diag, void *userdata);

/* Same for text already in memory; `name` plays the file's path (for %d %n %p %s and
 * diagnostics). section NULL as above. For tests and the fuzzer. */
int ini_load_string(Ini *ini, const char *name, const char *text, size_t len, const char *section,
                    IniDiagFunc diag, void *userdata);

/* Appends an entry from elsewhere (the command line: file "command line", line 0), with the
 * same interpolation applied to the value. Returns 0, -ENOMEM, or -EINVAL (reported). */
int ini_add(Ini *ini, const char *key, const char *value, const char *file, unsigned line,
            IniDiagFunc diag, void *userdata);

size_t ini_size(const Ini *ini);
const IniEntry *ini_entry(const Ini *ini, size_t i);
/* The latest value of key, or NULL. */
const char *ini_get(const Ini *ini, const char *key);
/* The absolute path of the file loaded last, or NULL. */
const char *ini_path(const Ini *ini);
