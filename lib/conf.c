/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

#define CONF_MESSAGE_MAX 1024U
#define CONF_PHRASE_MAX 128U
#define CONF_ARGV_ORIGIN "command line"

_printf_(6, 7) static void conf_report(IniDiagFunc diag, void *userdata, IniLevel level,
                                       const char *file, unsigned line, const char *fmt, ...) {
        char message[CONF_MESSAGE_MAX];
        va_list ap;

        if (!diag)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        diag(userdata, level, file, line, message);
}

int conf_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "true", "yes", "on" };
        static const char *const no[] = { "0", "false", "no", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcaseeq(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (strcaseeq(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Decimal digits only, into a uint64_t; the end of the digits in *ret_end. Rejects no digits
 * and overflow. */
static int conf_parse_digits(const char *s, uint64_t *ret, const char **ret_end) {
        uint64_t v = 0;
        const char *p = s;

        for (; *p >= '0' && *p <= '9'; p++) {
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
                        return -EINVAL;
        }
        if (p == s)
                return -EINVAL;
        *ret = v;
        *ret_end = p;
        return 0;
}

int conf_parse_int(const char *s, int64_t *ret) {
        bool negative;
        const char *end;
        uint64_t v;

        if (!s)
                return -EINVAL;
        negative = *s == '-';
        if (conf_parse_digits(s + negative, &v, &end) < 0 || *end)
                return -EINVAL;
        /* INT64_MIN has no positive counterpart: compare magnitudes in unsigned. */
        if (v > (uint64_t) INT64_MAX + negative)
                return -EINVAL;
        if (negative)
                *ret = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v;
        else
                *ret = (int64_t) v;
        return 0;
}

int conf_parse_size(const char *s, uint64_t *ret) {
        const char *end;
        uint64_t v, unit = 1;

        if (!s || conf_parse_digits(s, &v, &end) < 0)
                return -EINVAL;
        switch (*end) {
        case 0:
                break;
        case 'k':
        case 'K':
                unit = UINT64_C(1) << 10;
                break;
        case 'm':
        case 'M':
                unit = UINT64_C(1) << 20;
                break;
        case 'g':
        case 'G':
                unit = UINT64_C(1) << 30;
                break;
        default:
                return -EINVAL;
        }
        if (*end && end[1])
                return -EINVAL;
        if (__builtin_mul_overflow(v, unit, &v))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* An octal file mode, 0 to 07777. */
static int conf_parse_mode(const char *s, int *ret) {
        unsigned v = 0;

        if (!*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '7')
                        return -EINVAL;
                v = v * 8 + (unsigned) (*p - '0');
                if (v > 07777)
                        return -EINVAL;
        }
        *ret = (int) v;
        return 0;
}

/* "64M" when size is a whole number of a unit, else bytes: the way a user wrote the bound. */
static void conf_format_size(uint64_t size, char *buf, size_t n) {
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'G', 30 }, { 'M', 20 }, { 'k', 10 } };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (size > 0 && size % (UINT64_C(1) << units[i].shift) == 0) {
                        (void) snprintf(buf, n, "%" PRIu64 "%c", size >> units[i].shift, units[i].suffix);
                        return;
                }
        (void) snprintf(buf, n, "%" PRIu64, size);
}

/* What a CONF_INT accepts, said the way a person would. too_big: the value parsed but was above
 * max; a "positive integer" would then not tell the user what is wrong. */
static void conf_int_phrase(const ConfOption *opt, bool too_big, char *buf, size_t n) {
        if (opt->min == 0 && opt->max == 0)
                (void) snprintf(buf, n, "an integer");
        else if (opt->min == 1 && (opt->max == INT64_MAX || !too_big))
                (void) snprintf(buf, n, "a positive integer");
        else if (opt->min == 0 && opt->max == INT64_MAX)
                (void) snprintf(buf, n, "a non-negative integer");
        else if (opt->max == INT64_MAX)
                (void) snprintf(buf, n, "an integer of at least %" PRId64, opt->min);
        else if (opt->min == INT64_MIN)
                (void) snprintf(buf, n, "an integer of at most %" PRId64, opt->max);
        else
                (void) snprintf(buf, n, "an integer between %" PRId64 " and %" PRId64,
                                opt->min, opt->max);
}

static int conf_set_int(const ConfOption *opt, const char *value, int64_t *field, char *phrase,
                        size_t n) {
        bool bounded = !(opt->min == 0 && opt->max == 0);
        int64_t v;
        int r;

        r = conf_parse_int(value, &v);
        if (r < 0 || (bounded && (v < opt->min || v > opt->max))) {
                conf_int_phrase(opt, r == 0 && v > opt->max, phrase, n);
                return -EINVAL;
        }
        *field = v;
        return 0;
}

static int conf_set_size(const ConfOption *opt, const char *value, uint64_t *field, char *phrase,
                         size_t n) {
        char lo[32], hi[32];
        uint64_t v, min, max;

        if (conf_parse_size(value, &v) < 0) {
                (void) snprintf(phrase, n, "a size such as 65536, 64k or 50M");
                return -EINVAL;
        }
        if (!(opt->min == 0 && opt->max == 0)) {
                /* A size is never negative: a negative bound means none on that side. */
                min = opt->min > 0 ? (uint64_t) opt->min : 0;
                max = opt->max >= 0 ? (uint64_t) opt->max : 0;
                if (v < min || v > max) {
                        conf_format_size(min, lo, sizeof(lo));
                        conf_format_size(max, hi, sizeof(hi));
                        if (min == 0)
                                (void) snprintf(phrase, n, "a size of at most %s", hi);
                        else if (max == (uint64_t) INT64_MAX)
                                (void) snprintf(phrase, n, "a size of at least %s", lo);
                        else
                                (void) snprintf(phrase, n, "a size between %s and %s", lo, hi);
                        return -EINVAL;
                }
        }
        *field = v;
        return 0;
}

/* gcc 12's -fanalyzer loses track of a pointer stored through `config + offset` and reports
 * the new string as leaked; conf_free() frees it. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static int conf_set_string(const char *value, char **field) {
        char *copy = strdup(value);

        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

int conf_strv_append(const char *value, char ***field) {
        size_t n = 0;
        char **v;
        char *copy;

        while (*field && (*field)[n])
                n++;
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        v = reallocarray(*field, n + 2, sizeof(char *));
        if (!v) {
                free(copy);
                return -ENOMEM;
        }
        v[n] = copy;
        v[n + 1] = NULL;
        *field = v;
        return 0;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Parses one value into its field. Returns 0, -ENOMEM, or -EINVAL with what was expected
 * written to phrase. */
static int conf_set(const ConfOption *opt, void *config, const char *value, char *phrase,
                    size_t n) {
        void *field = (char *) config + opt->offset;
        const char *expected = NULL;
        int r;

        switch (opt->type) {
        case CONF_BOOL:
        case CONF_STRICT:
                /* uWSGI writes flags as "master =" too. */
                if (!*value) {
                        *(bool *) field = true;
                        return 0;
                }
                r = conf_parse_bool(value, field);
                if (r < 0)
                        (void) snprintf(phrase, n, "a boolean (true/false, yes/no, on/off, 1/0)");
                return r;
        case CONF_INT:
                return conf_set_int(opt, value, field, phrase, n);
        case CONF_SIZE:
                return conf_set_size(opt, value, field, phrase, n);
        case CONF_STRING:
        case CONF_STRV:
                if (opt->parse) {
                        r = opt->parse(opt, value, NULL, &expected);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                (void) snprintf(phrase, n, "%s", expected ?: "a valid value");
                                return -EINVAL;
                        }
                }
                return opt->type == CONF_STRING ? conf_set_string(value, field)
                                                : conf_strv_append(value, field);
        case CONF_MODE:
                /* uWSGI's bare "chmod-socket" means 666. */
                if (!*value) {
                        *(int *) field = 0666;
                        return 0;
                }
                r = conf_parse_mode(value, field);
                if (r < 0)
                        (void) snprintf(phrase, n, "an octal mode such as 660");
                return r;
        case CONF_CUSTOM:
                r = opt->parse(opt, value, field, &expected);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        (void) snprintf(phrase, n, "%s", expected ?: "a valid value");
                        return -EINVAL;
                }
                return 0;
        case CONF_IGNORED:
        case CONF_REFUSED:
                return 0;
        }
        /* A table entry with a type this file does not know is a programming error. */
        assert(!"unknown ConfType");
        return -EINVAL;
}

/* "route-*" matches "route-if" (and "route-" itself, which uWSGI does not have either). */
static bool conf_prefix_matches(const ConfOption *opt, const char *key) {
        size_t l = strlen(opt->name);
        return opt->type == CONF_REFUSED && l > 1 && opt->name[l - 1] == '*' &&
               strncmp(opt->name, key, l - 1) == 0;
}

const ConfOption *conf_find(const ConfOption *table, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq(table[i].name, key))
                        return &table[i];
        for (size_t i = 0; i < n; i++)
                if (conf_prefix_matches(&table[i], key))
                        return &table[i];
        return NULL;
}

/* Levenshtein distance between a and b, giving up (returning limit + 1) when it must exceed
 * limit. Only called with short option names for b, and with a of a length close to b's. */
static size_t conf_distance(const char *a, size_t la, const char *b, size_t lb, size_t limit) {
        _cleanup_free_ size_t *row = NULL;

        row = calloc(lb + 1, sizeof(size_t));
        if (!row)
                return limit + 1;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0], best;

                row[0] = i;
                best = row[0];
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];

                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + (a[i - 1] != b[j - 1]));
                        diag = up;
                        best = MIN(best, row[j]);
                }
                /* Every later row is at least this row's minimum. */
                if (best > limit)
                        return limit + 1;
        }
        return row[lb];
}

size_t conf_name_distance(const char *key, const char *name) {
        size_t len = strlen(key), limit = MAX(len / 3, (size_t) 2), l = strlen(name);

        /* The length difference alone is a lower bound on the distance. */
        if ((l > len ? l - len : len - l) > limit)
                return SIZE_MAX;
        size_t d = conf_distance(key, len, name, l, limit);
        return d > limit ? SIZE_MAX : d;
}

const char *conf_suggest(const ConfOption *table, size_t n, const char *key) {
        size_t best = SIZE_MAX;
        const char *found = NULL;

        for (size_t i = 0; i < n; i++) {
                /* Suggesting a key we refuse, or a pattern, helps nobody. */
                if (table[i].type == CONF_REFUSED)
                        continue;
                size_t d = conf_name_distance(key, table[i].name);
                if (d < best) {
                        best = d;
                        found = table[i].name;
                }
        }
        return found;
}

/* Whether a CONF_STRICT row's key is true in ini: its last valid value, wherever it is, so a
 * `strict = true` at the end of the file covers the keys above it too. */
static bool conf_strict(const ConfOption *table, size_t n, const Ini *ini) {
        bool strict = false;

        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);
                const ConfOption *opt = conf_find(table, n, e->key);
                bool b;

                if (!opt || opt->type != CONF_STRICT)
                        continue;
                if (!*e->value)
                        strict = true;
                else if (conf_parse_bool(e->value, &b) == 0)
                        strict = b;
        }
        return strict;
}

int conf_apply(const ConfOption *table, size_t n, void *config, const Ini *ini,
               IniDiagFunc diag, void *userdata) {
        size_t count = ini_size(ini);
        bool strict = conf_strict(table, n, ini);
        int r = 0;

        for (size_t i = 0; i < count; i++) {
                const IniEntry *e = ini_entry(ini, i);
                const ConfOption *opt = conf_find(table, n, e->key);
                char phrase[CONF_PHRASE_MAX];
                int k;

                if (!opt) {
                        const char *s;

                        /* The user's own variable, used through %(key): not a typo. */
                        if (e->referenced)
                                continue;
                        s = conf_suggest(table, n, e->key);
                        if (strict) {
                                r = -EINVAL;
                                if (s)
                                        conf_report(diag, userdata, INI_ERROR, e->file, e->line,
                                                    "unknown key '%s' (strict mode); did you "
                                                    "mean '%s'?", e->key, s);
                                else
                                        conf_report(diag, userdata, INI_ERROR, e->file, e->line,
                                                    "unknown key '%s' (strict mode)", e->key);
                        } else if (s)
                                conf_report(diag, userdata, INI_WARNING, e->file, e->line,
                                            "unknown key '%s', ignored; did you mean '%s'?", e->key, s);
                        else
                                conf_report(diag, userdata, INI_WARNING, e->file, e->line,
                                            "unknown key '%s', ignored", e->key);
                        continue;
                }
                if (opt->type == CONF_REFUSED) {
                        conf_report(diag, userdata, INI_ERROR, e->file, e->line,
                                    "'%s' is not supported: %s", e->key,
                                    opt->help ?: "a uWSGI feature this server does not have");
                        r = -EINVAL;
                        continue;
                }
                if (opt->type == CONF_IGNORED) {
                        if (opt->help)
                                conf_report(diag, userdata, INI_WARNING, e->file, e->line,
                                            "'%s' has no effect here: %s", e->key, opt->help);
                        continue;
                }

                k = conf_set(opt, config, e->value, phrase, sizeof(phrase));
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        /* Keep going: the user gets every bad value in one pass. */
                        conf_report(diag, userdata, INI_ERROR, e->file, e->line, "%s: expected %s",
                                    e->key, phrase);
                        r = -EINVAL;
                }
        }
        return r;
}

void conf_free(const ConfOption *table, size_t n, void *config) {
        for (size_t i = 0; i < n; i++) {
                void *field = (char *) config + table[i].offset;

                if (table[i].type == CONF_STRING) {
                        char **s = field;

                        free(*s);
                        *s = NULL;
                } else if (table[i].type == CONF_STRV) {
                        char ***v = field;

                        for (char **p = *v; p && *p; p++)
                                free(*p);
                        free(*v);
                        *v = NULL;
                }
        }
}

static bool conf_is_option(const char *arg) {
        return arg && arg[0] == '-' && arg[1] == '-';
}

/* The value of "--key" given without "=": the next argument, true, or an error. *i is moved
 * past a consumed argument. */
static int conf_argv_value(const ConfOption *opt, int argc, char **argv, int *i,
                           const char **ret) {
        const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
        bool b;

        if (opt && (opt->type == CONF_BOOL || opt->type == CONF_STRICT)) {
                /* "--master app.ini": app.ini is not a boolean, so it stays positional. */
                if (next && conf_parse_bool(next, &b) == 0) {
                        *ret = next;
                        (*i)++;
                } else
                        *ret = "true";
                return 0;
        }
        if (opt && opt->type != CONF_IGNORED && opt->type != CONF_REFUSED) {
                if (!next || conf_is_option(next))
                        return -EINVAL;
                *ret = next;
                (*i)++;
                return 0;
        }
        /* Unknown (or ignored, whose arity we do not know): uWSGI flags take no value, other
         * options one; guess from the next argument, as uWSGI's own parser cannot either. */
        if (next && !conf_is_option(next)) {
                *ret = next;
                (*i)++;
        } else
                *ret = "true";
        return 0;
}

int conf_parse_argv(const ConfOption *table, size_t n, int argc, char **argv, Ini *ini,
                    char **ret_positional, size_t max_positional, size_t *ret_n_positional,
                    IniDiagFunc diag, void *userdata) {
        size_t n_positional = 0;
        bool options_done = false;
        int r = 0;

        /* argv[0] is the program, as with getopt. */
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *key = NULL;
                const char *arg = argv[i], *eq, *value;
                int k;

                if (!options_done && streq(arg, "--")) {
                        options_done = true;
                        continue;
                }
                if (options_done || !conf_is_option(arg)) {
                        if (n_positional >= max_positional) {
                                conf_report(diag, userdata, INI_ERROR, CONF_ARGV_ORIGIN, 0,
                                            "unexpected argument '%s'", arg);
                                r = -EINVAL;
                                continue;
                        }
                        ret_positional[n_positional++] = (char *) arg;
                        continue;
                }

                eq = strchr(arg + 2, '=');
                key = eq ? strndup(arg + 2, eq - (arg + 2)) : strdup(arg + 2);
                if (!key)
                        return -ENOMEM;
                if (!*key) {
                        conf_report(diag, userdata, INI_ERROR, CONF_ARGV_ORIGIN, 0,
                                    "'%s': expected an option name after '--'", arg);
                        r = -EINVAL;
                        continue;
                }
                if (eq)
                        value = eq + 1;
                else if (conf_argv_value(conf_find(table, n, key), argc, argv, &i, &value) < 0) {
                        conf_report(diag, userdata, INI_ERROR, CONF_ARGV_ORIGIN, 0,
                                    "option '--%s' requires a value", key);
                        r = -EINVAL;
                        continue;
                }

                k = ini_add(ini, key, value, CONF_ARGV_ORIGIN, 0, diag, userdata);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        if (ret_n_positional)
                *ret_n_positional = n_positional;
        return r;
}
