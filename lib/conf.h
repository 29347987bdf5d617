/* SPDX-License-Identifier: MIT */
#pragma once

/* Typed option tables (nginx command tables, redis standardConfig): each module describes its
 * keys once, with type, field offset and bounds, and conf_apply() turns an Ini into a filled
 * struct, reporting every bad value as "file:line: key: expected ..." and every unknown key as
 * a warning with the closest known key. The struct's defaults are set by its owner before. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ini.h"

typedef enum ConfType {
        CONF_BOOL,   /* bool: true/false yes/no on/off 1/0 (case-insensitive); empty = true */
        CONF_INT,    /* int64_t within [min, max] */
        CONF_SIZE,   /* uint64_t bytes: 65536, 64k, 50M, 2G (powers of 1024), within [min, max] */
        CONF_STRING, /* char *, the latest value wins (strdup'd; the old one freed) */
        CONF_STRV,   /* char **, NULL-terminated; every occurrence appends */
        CONF_MODE,   /* int: octal file mode 0-07777; empty = 0666 (uWSGI's chmod-socket) */
        CONF_CUSTOM, /* parsed by .parse */
        CONF_IGNORED, /* accepted for compatibility; has no effect (.help says why) */
        CONF_REFUSED, /* a uWSGI feature we do not offer: an error saying what to use instead
                       * (.help). A name ending in '*' matches every key with that prefix. */
        CONF_STRICT,  /* bool, as CONF_BOOL; true anywhere in the file makes every unknown key
                       * of the whole file an error (uWSGI's strict mode) */
} ConfType;

typedef struct ConfOption ConfOption;

/* Custom parser: returns 0, or -EINVAL with *ret_expected set to a static phrase
 * ("a user:group pair") for the "expected ..." message. */
typedef int (*ConfParseFunc)(const ConfOption *opt, const char *value, void *field,
                             const char **ret_expected);

/* The offset of field in the struct type T, for ConfOption.offset; a compile-time error unless
 * the field has type C, so a row shared between structs (lib/vkeys.h) cannot write an int64_t
 * into an int. */
#define CONF_FIELD(T, field, C)                                                                  \
        (offsetof(T, field) +                                                                    \
         0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((T *) 0)->field), C) ? 1 : -1]))

struct ConfOption {
        const char *name;
        ConfType type;
        size_t offset; /* of the field in the config struct */
        int64_t min, max; /* CONF_INT and CONF_SIZE; both 0 = no bound */
        /* CONF_CUSTOM: parses into the field. CONF_STRING and CONF_STRV: when set, checks the
         * value before it is stored (called with field NULL). */
        ConfParseFunc parse;
        const char *help;
};

/* Looks key up: its exact name, else a CONF_REFUSED prefix row ("route-*"). NULL when
 * unknown. */
const ConfOption *conf_find(const ConfOption *table, size_t n, const char *key);
/* The known name closest to key (edit distance, at most a third of the key's length, at least
 * 2), or NULL when nothing is close. Used for "did you mean ...?". */
const char *conf_suggest(const ConfOption *table, size_t n, const char *key);
/* The edit distance from key to name when it is that close, else SIZE_MAX (for suggesting
 * other names: vassals, commands). */
size_t conf_name_distance(const char *key, const char *name);

/* Applies every entry of ini, in order, to config. Returns 0, or -EINVAL when any value was
 * bad (all of them are reported, not only the first). An unknown key is a warning with the
 * closest known key ("did you mean 'enable-threads'?"), except a key that a later %(key)
 * referenced (entry->referenced): that is the user's own variable (project = site1). When a
 * CONF_STRICT row's key is true (its last value, wherever it is in the file), unknown keys are
 * errors instead: "unknown key 'x' (strict mode)". A CONF_REFUSED key is always an error. */
int conf_apply(const ConfOption *table, size_t n, void *config, const Ini *ini,
               IniDiagFunc diag, void *userdata);

/* Frees every CONF_STRING and CONF_STRV field of config (not config itself). */
void conf_free(const ConfOption *table, size_t n, void *config);

/* Turns argv into ini entries ("command line", line 0): "--key value", "--key=value", and for
 * CONF_BOOL options a bare "--key" (the next argument is taken as its value only when it
 * parses as a boolean). Arguments not starting with "--" are positional: their pointers are
 * stored in ret_positional (up to max_positional; more is an error). "--" ends options.
 * Returns 0 or -EINVAL (reported: an option missing its value, too many positionals).
 * Unknown keys are added too and then warned about by conf_apply(), as in an ini. */
int conf_parse_argv(const ConfOption *table, size_t n, int argc, char **argv, Ini *ini,
                    char **ret_positional, size_t max_positional, size_t *ret_n_positional,
                    IniDiagFunc diag, void *userdata);

/* Value parsers, usable on their own. Each returns 0 or -EINVAL. */
int conf_parse_bool(const char *s, bool *ret);
int conf_parse_int(const char *s, int64_t *ret);
int conf_parse_size(const char *s, uint64_t *ret);

/* Appends a copy of value to the NULL-terminated list *field (what CONF_STRV does). 0 or
 * -ENOMEM. */
int conf_strv_append(const char *value, char ***field);
