/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ini.h"

/* Bounds on everything a config file controls. They are far above any real uwsgi.ini but keep a
 * hostile or broken file (or the fuzzer) from taking the process's memory. */
#define INI_LINE_MAX (64U * 1024U)          /* bytes in one line */
#define INI_VALUE_MAX (64U * 1024U)         /* bytes in one value after expansion */
#define INI_ENTRIES_MAX 10000U              /* entries in one Ini */
#define INI_BYTES_MAX (16U * 1024U * 1024U) /* bytes of all keys and values of one Ini */
#define INI_FILE_MAX (16U * 1024U * 1024U)  /* bytes of one file or string */
#define INI_MESSAGE_MAX 1024U               /* a diagnostic; longer user text is cut */

struct Ini {
        IniEntry *entries;
        size_t n_entries;
        size_t n_allocated;
        size_t n_bytes; /* keys and values, bounded by INI_BYTES_MAX */
        /* The file names entries point to (IniEntry.file). Interned: one copy per name, freed
         * only with the Ini, so an entry's file stays valid as long as the entry. */
        char **origins;
        size_t n_origins;
        char *path; /* absolute path of the file loaded last; the base of %d %n %p %s */
};

/* Where a value is being expanded, for diagnostics. */
typedef struct IniContext {
        Ini *ini;
        const char *file;
        unsigned line;
        IniDiagFunc diag;
        void *userdata;
        /* The last ')' of the value being expanded: past it no "%(" or "$(" can close, which
         * keeps a line full of unterminated ones linear instead of quadratic. */
        const char *last_paren;
} IniContext;

/* A growing string that refuses to exceed INI_VALUE_MAX. */
typedef struct IniBuffer {
        char *data;
        size_t len;
        size_t allocated;
} IniBuffer;

/* Keys whose values uWSGI expands itself at run time, per request: their %(name) are log
 * variables (%(addr), %(status) ...), not references to earlier keys, and must survive. */
static const char *const ini_runtime_keys[] = {
        "log-format",
        "logformat",
};

_printf_(6, 7) static void ini_report(IniDiagFunc diag, void *userdata, IniLevel level,
                                      const char *file, unsigned line, const char *fmt, ...) {
        char message[INI_MESSAGE_MAX];
        va_list ap;

        if (!diag)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        diag(userdata, level, file, line, message);
}

#define ini_warning(ctx, ...) \
        ini_report((ctx)->diag, (ctx)->userdata, INI_WARNING, (ctx)->file, (ctx)->line, __VA_ARGS__)
#define ini_error(ctx, ...) \
        ini_report((ctx)->diag, (ctx)->userdata, INI_ERROR, (ctx)->file, (ctx)->line, __VA_ARGS__)

/* Not isspace(): the locale must not change what a config file means, and chars are signed. */
static bool ini_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char *ini_skip_space(const char *s) {
        while (ini_is_space(*s))
                s++;
        return (char *) s;
}

/* Trims s in place at both ends and returns its new start. */
static char *ini_strip(char *s) {
        size_t n;

        s = ini_skip_space(s);
        n = strlen(s);
        while (n > 0 && ini_is_space(s[n - 1]))
                n--;
        s[n] = 0;
        return s;
}

static int ini_buffer_append(IniBuffer *b, const char *s, size_t n) {
        if (n > INI_VALUE_MAX - b->len)
                return -E2BIG;
        if (b->len + n + 1 > b->allocated) {
                size_t want = MAX(b->allocated * 2, b->len + n + 1);
                char *p;

                want = MIN(MAX(want, (size_t) 64), (size_t) INI_VALUE_MAX + 1);
                p = realloc(b->data, want);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->allocated = want;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

Ini *ini_new(void) {
        return calloc(1, sizeof(Ini));
}

Ini *ini_free(Ini *ini) {
        if (!ini)
                return NULL;
        for (size_t i = 0; i < ini->n_entries; i++) {
                free(ini->entries[i].key);
                free(ini->entries[i].value);
        }
        free(ini->entries);
        for (size_t i = 0; i < ini->n_origins; i++)
                free(ini->origins[i]);
        free(ini->origins);
        free(ini->path);
        free(ini);
        return NULL;
}

size_t ini_size(const Ini *ini) {
        return ini ? ini->n_entries : 0;
}

const IniEntry *ini_entry(const Ini *ini, size_t i) {
        if (!ini || i >= ini->n_entries)
                return NULL;
        return &ini->entries[i];
}

/* The latest entry whose key is the n bytes at key (not NUL-terminated). */
static IniEntry *ini_find_latest(const Ini *ini, const char *key, size_t n) {
        for (size_t i = ini->n_entries; i > 0; i--) {
                IniEntry *e = &ini->entries[i - 1];

                if (strncmp(e->key, key, n) == 0 && e->key[n] == 0)
                        return e;
        }
        return NULL;
}

const char *ini_get(const Ini *ini, const char *key) {
        const IniEntry *e;

        if (!ini || !key)
                return NULL;
        e = ini_find_latest(ini, key, strlen(key));
        return e ? e->value : NULL;
}

const char *ini_path(const Ini *ini) {
        return ini ? ini->path : NULL;
}

/* Returns the Ini's own copy of a file name, adding it on first use; NULL on OOM. */
static const char *ini_intern(Ini *ini, const char *name) {
        char **p, *copy;

        for (size_t i = 0; i < ini->n_origins; i++)
                if (streq(ini->origins[i], name))
                        return ini->origins[i];
        copy = strdup(name);
        if (!copy)
                return NULL;
        p = reallocarray(ini->origins, ini->n_origins + 1, sizeof(char *));
        if (!p) {
                free(copy);
                return NULL;
        }
        ini->origins = p;
        ini->origins[ini->n_origins++] = copy;
        return copy;
}

/* Makes name absolute against the working directory without touching the file: uWSGI does the
 * same, so %d of a symlinked ini is the symlink's directory. "." components and repeated
 * slashes go; ".." stays, since removing it lexically is wrong across symlinks. */
static int ini_make_absolute(const char *name, char **ret) {
        _cleanup_free_ char *cwd = NULL, *joined = NULL;
        char *out, *w;
        const char *p;

        if (name[0] != '/') {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
                if (asprintf(&joined, "%s/%s", cwd, name) < 0) {
                        joined = NULL;
                        return -ENOMEM;
                }
                name = joined;
        }

        out = malloc(strlen(name) + 2);
        if (!out)
                return -ENOMEM;
        w = out;
        p = name;
        for (;;) {
                size_t n;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                n = strcspn(p, "/");
                if (!(n == 1 && p[0] == '.')) {
                        *w++ = '/';
                        memcpy(w, p, n);
                        w += n;
                }
                p += n;
        }
        if (w == out)
                *w++ = '/';
        *w = 0;
        *ret = out;
        return 0;
}

/* The value of a file magic variable (%d %n %p %s, and uWSGI's %c %e), taken from the absolute
 * path, as a span of it. Returns false when c is none of them. */
static bool ini_magic_span(const char *path, char c, const char **ret, size_t *ret_len) {
        const char *base = strrchr(path, '/') + 1, *dot = strrchr(base, '.'), *dir;
        /* A leading dot is a hidden file, not an extension, as for uWSGI. */
        bool has_ext = dot && dot != base;

        switch (c) {
        case 'p':
                *ret = path, *ret_len = strlen(path);
                return true;
        case 'd':
                /* With the trailing slash: uWSGI configs write "%dapp.py". */
                *ret = path, *ret_len = base - path;
                return true;
        case 's':
                *ret = base, *ret_len = strlen(base);
                return true;
        case 'n':
                /* uWSGI strips whatever extension the file has, not only ".ini". */
                *ret = base, *ret_len = has_ext ? (size_t) (dot - base) : strlen(base);
                return true;
        case 'e':
                *ret = has_ext ? dot + 1 : "", *ret_len = strlen(*ret);
                return true;
        case 'c':
                /* The name of the directory holding the file ("" for the root). */
                dir = base - 1;
                while (dir > path && dir[-1] != '/')
                        dir--;
                *ret = dir, *ret_len = base - 1 - dir;
                return true;
        default:
                return false;
        }
}

/* %x where x is not '(' or '%'. *p points at '%' and is advanced past the variable. */
static int ini_expand_magic(IniContext *ctx, const char **p, IniBuffer *b) {
        const char *s = *p, *span;
        size_t len;

        if (!s[1]) {
                /* A lone '%' at the end is just a percent sign. */
                *p += 1;
                return ini_buffer_append(b, s, 1);
        }
        *p += 2;
        if (!ctx->ini->path && strchr("dnpsec", s[1])) {
                /* The command line before any file: nothing to refer to. */
                ini_warning(ctx, "magic variable '%%%c' has no file to refer to, kept as is", s[1]);
                return ini_buffer_append(b, s, 2);
        }
        if (!ctx->ini->path || !ini_magic_span(ctx->ini->path, s[1], &span, &len)) {
                /* uWSGI silently drops magic variables it does not know; we keep them, so a
                 * value never changes without a word. */
                ini_warning(ctx, "unsupported magic variable '%%%c' kept as is", s[1]);
                return ini_buffer_append(b, s, 2);
        }
        return ini_buffer_append(b, span, len);
}

static bool ini_is_runtime_key(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(ini_runtime_keys); i++)
                if (streq(key, ini_runtime_keys[i]))
                        return true;
        return false;
}

static const char *ini_find_paren(const IniContext *ctx, const char *s) {
        if (!ctx->last_paren || s > ctx->last_paren)
                return NULL;
        return strchr(s, ')');
}

/* %(name): the latest value of an earlier key. *p points at '%' and is advanced past the
 * reference. Returns 0, -EINVAL (reported) or -E2BIG/-ENOMEM. */
static int ini_expand_reference(IniContext *ctx, const char *key, const char **p, IniBuffer *b) {
        const char *name = *p + 2, *close = ini_find_paren(ctx, name);
        size_t n;
        IniEntry *e;

        if (!close) {
                /* No closing parenthesis: not a reference, keep the text (uWSGI does). */
                *p += 1;
                return ini_buffer_append(b, "%", 1);
        }

        n = close - name;
        *p = close + 1;
        e = ini_find_latest(ctx->ini, name, n);
        if (e) {
                e->referenced = true;
                return ini_buffer_append(b, e->value, strlen(e->value));
        }
        if (ini_is_runtime_key(key))
                return ini_buffer_append(b, name - 2, n + 3);
        ini_error(ctx, "%%(%.*s): no such key defined before this line", (int) n, name);
        return -EINVAL;
}

/* $(VAR): an environment variable, empty when unset. */
static int ini_expand_environment(IniContext *ctx, const char **p, IniBuffer *b) {
        const char *name = *p + 2, *close = ini_find_paren(ctx, name);
        _cleanup_free_ char *var = NULL;
        const char *value;

        if (!close) {
                *p += 1;
                return ini_buffer_append(b, "$", 1);
        }

        var = strndup(name, close - name);
        if (!var)
                return -ENOMEM;
        *p = close + 1;
        value = getenv(var);
        if (!value) {
                ini_warning(ctx, "environment variable '%s' is not set, using an empty value", var);
                return 0;
        }
        return ini_buffer_append(b, value, strlen(value));
}

/* One '%' or '$' construct at *p, which is advanced past it. */
static int ini_expand_one(IniContext *ctx, const char *key, const char **p, IniBuffer *b) {
        const char *s = *p;

        if (s[0] == '%' && s[1] == '(')
                return ini_expand_reference(ctx, key, p, b);
        if (s[0] == '%' && s[1] == '%') {
                *p += 2;
                return ini_buffer_append(b, "%", 1);
        }
        if (s[0] == '%')
                return ini_expand_magic(ctx, p, b);
        if (s[1] == '(')
                return ini_expand_environment(ctx, p, b);
        *p += 1;
        return ini_buffer_append(b, "$", 1);
}

static void ini_buffer_done(IniBuffer *b) {
        free(b->data);
}

/* Expands %(key), magic variables and $(VAR) in value, which belongs to key. Returns 0 with the
 * new string in *ret, -EINVAL (reported) or -ENOMEM. Every bad reference in the value is
 * reported, not only the first. */
static int ini_expand(IniContext *ctx, const char *key, const char *value, char **ret) {
        _cleanup_(ini_buffer_done) IniBuffer b = {};
        const char *p = value;
        int r = 0;

        /* Never NULL, even for an empty value. */
        if (ini_buffer_append(&b, "", 0) < 0)
                return -ENOMEM;
        ctx->last_paren = strrchr(value, ')');

        while (*p) {
                size_t plain = strcspn(p, "%$");
                int k;

                k = ini_buffer_append(&b, p, plain);
                p += plain;
                if (k == 0 && *p)
                        k = ini_expand_one(ctx, key, &p, &b);
                if (k == -EINVAL)
                        r = -EINVAL;
                else if (k == -E2BIG) {
                        ini_error(ctx, "value too long after expansion (limit %u bytes)", INI_VALUE_MAX);
                        return -EINVAL;
                } else if (k < 0)
                        return k;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b.data);
        return 0;
}

/* Takes ownership of key and value. */
static int ini_push(IniContext *ctx, char *key, char *value) {
        _cleanup_free_ char *k = key, *v = value;
        Ini *ini = ctx->ini;
        size_t bytes = strlen(k) + strlen(v);
        IniEntry *e;

        if (ini->n_entries >= INI_ENTRIES_MAX) {
                ini_error(ctx, "too many entries (limit %u)", INI_ENTRIES_MAX);
                return -E2BIG;
        }
        if (bytes > INI_BYTES_MAX - ini->n_bytes) {
                ini_error(ctx, "configuration too large (limit %u bytes of keys and values)",
                          INI_BYTES_MAX);
                return -E2BIG;
        }
        if (ini->n_entries == ini->n_allocated) {
                size_t want = MAX(ini->n_allocated * 2, (size_t) 16);
                IniEntry *p = reallocarray(ini->entries, want, sizeof(IniEntry));

                if (!p)
                        return -ENOMEM;
                ini->entries = p;
                ini->n_allocated = want;
        }
        e = &ini->entries[ini->n_entries++];
        *e = (IniEntry) {
                .key = TAKE_PTR(k),
                .value = TAKE_PTR(v),
                .file = ctx->file,
                .line = ctx->line,
        };
        ini->n_bytes += bytes;
        return 0;
}

int ini_add(Ini *ini, const char *key, const char *value, const char *file, unsigned line,
            IniDiagFunc diag, void *userdata) {
        IniContext ctx = {
                .ini = ini,
                .line = line,
                .diag = diag,
                .userdata = userdata,
        };
        _cleanup_free_ char *k = NULL, *v = NULL;
        int r;

        if (!ini || !key || !value)
                return -EINVAL;
        ctx.file = ini_intern(ini, file ?: "command line");
        if (!ctx.file)
                return -ENOMEM;
        if (!*key) {
                ini_error(&ctx, "empty key");
                return -EINVAL;
        }
        if (strlen(key) > INI_LINE_MAX) {
                ini_error(&ctx, "key too long (limit %u bytes)", INI_LINE_MAX);
                return -EINVAL;
        }
        k = strdup(key);
        if (!k)
                return -ENOMEM;
        r = ini_expand(&ctx, key, value, &v);
        if (r < 0)
                return r;
        r = ini_push(&ctx, TAKE_PTR(k), TAKE_PTR(v));
        return r == -E2BIG ? -EINVAL : r;
}

/* The parser's state across the lines of one text. */
typedef struct IniParser {
        IniContext ctx;
        const char *section; /* NULL: "uwsgi" and "vassal" */
        bool in_section;     /* inside a section we read */
        bool found;          /* saw such a section at all */
} IniParser;

static bool ini_section_wanted(const IniParser *p, const char *name) {
        if (p->section)
                return streq(name, p->section);
        return streq(name, "uwsgi") || streq(name, "vassal");
}

static int ini_parse_section(IniParser *p, char *line) {
        char *close = strchr(line, ']'), *rest;

        if (!close) {
                ini_error(&p->ctx, "expected ']' at the end of the section header");
                return -EINVAL;
        }
        rest = ini_skip_space(close + 1);
        if (*rest && *rest != ';' && *rest != '#') {
                ini_error(&p->ctx, "unexpected text after the section header");
                return -EINVAL;
        }
        *close = 0;
        p->in_section = ini_section_wanted(p, ini_strip(line + 1));
        p->found = p->found || p->in_section;
        return 0;
}

/* Splits the raw text after '=' into the value and the comment after it, if any. Quotes that
 * wrap the value are removed, and protect a '#' or ';' inside them. Returns the value, in
 * place; *ret_comment is NULL or the comment. */
static char *ini_split_value(char *raw, char **ret_comment) {
        char *v = ini_skip_space(raw);

        *ret_comment = NULL;
        if (*v == '"') {
                /* The closing quote is the first one that is followed by nothing but an
                 * optional comment: "a"b" is a"b, "a" # x "y" is a. */
                for (char *q = strchr(v + 1, '"'); q; q = strchr(q + 1, '"')) {
                        char *after = ini_skip_space(q + 1);

                        if (*after && !(after > q + 1 && (*after == '#' || *after == ';')))
                                continue;
                        *q = 0;
                        *ret_comment = *after ? after : NULL;
                        return v + 1;
                }
        }

        /* A comment needs whitespace before it, so "http://x/#frag" and "%(a)#b" stay whole.
         * raw still has the whitespace after '=', so "key = # note" is an empty value. */
        for (char *c = raw; *c; c++)
                if (c > raw && (*c == '#' || *c == ';') && ini_is_space(c[-1])) {
                        *ret_comment = c;
                        c[-1] = 0;
                        break;
                }
        return ini_strip(raw);
}

/* One line of text, already without its newline and NUL-free. */
static int ini_parse_line(IniParser *p, char *line) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        char *eq, *comment, *v;
        int r;

        line = ini_strip(line);
        if (!*line || *line == ';' || *line == '#')
                return 0;
        if (*line == '[')
                return ini_parse_section(p, line);
        /* uWSGI ignores lines outside its section, and so do we: other tools may share the file. */
        if (!p->in_section)
                return 0;

        eq = strchr(line, '=');
        if (!eq) {
                ini_error(&p->ctx, "expected 'key = value'");
                return -EINVAL;
        }
        *eq = 0;
        line = ini_strip(line);
        if (!*line) {
                ini_error(&p->ctx, "expected a key before '='");
                return -EINVAL;
        }
        key = strdup(line);
        if (!key)
                return -ENOMEM;

        v = ini_split_value(eq + 1, &comment);
        if (comment)
                ini_warning(&p->ctx, "comment after the value was removed: '%s'", comment);

        r = ini_expand(&p->ctx, key, v, &value);
        if (r < 0)
                return r;
        return ini_push(&p->ctx, TAKE_PTR(key), TAKE_PTR(value));
}

/* Parses text as the file p->ctx.file. Per-line errors are reported and parsing goes on, so
 * the user sees all of them at once; running out of entries or memory stops it. */
static int ini_parse(IniParser *p, const char *text, size_t len) {
        const char *s = text, *end = text + len;
        int r = 0;

        if (len > INI_FILE_MAX) {
                ini_report(p->ctx.diag, p->ctx.userdata, INI_ERROR, p->ctx.file, 0,
                           "too large (limit %u bytes)", INI_FILE_MAX);
                return -EINVAL;
        }
        /* Editors on Windows start UTF-8 files with a byte order mark. */
        if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
                s += 3;

        while (s < end) {
                const char *nl = memchr(s, '\n', end - s), *eol = nl ?: end;
                _cleanup_free_ char *line = NULL;
                size_t n = eol - s;
                int k;

                p->ctx.line++;
                if (n > INI_LINE_MAX) {
                        ini_error(&p->ctx, "line too long (limit %u bytes)", INI_LINE_MAX);
                        r = -EINVAL;
                } else if (memchr(s, 0, n)) {
                        ini_error(&p->ctx, "unexpected NUL byte");
                        r = -EINVAL;
                } else {
                        line = strndup(s, n);
                        if (!line)
                                return -ENOMEM;
                        k = ini_parse_line(p, line);
                        if (k == -E2BIG)
                                return -EINVAL;
                        if (k < 0 && k != -EINVAL)
                                return k;
                        if (k < 0)
                                r = k;
                }
                s = nl ? nl + 1 : end;
        }

        if (!p->found) {
                ini_report(p->ctx.diag, p->ctx.userdata, INI_ERROR, p->ctx.file, 0,
                           "no [%s] section", p->section ?: "uwsgi");
                return -EINVAL;
        }
        return r;
}

/* Makes name the file magic variables refer to, and parses text as its content. */
static int ini_load(Ini *ini, const char *name, const char *text, size_t len, const char *section,
                    IniDiagFunc diag, void *userdata) {
        IniParser p = {
                .ctx = {
                        .ini = ini,
                        .diag = diag,
                        .userdata = userdata,
                },
                .section = section,
        };
        char *path = NULL;
        int r;

        p.ctx.file = ini_intern(ini, name);
        if (!p.ctx.file)
                return -ENOMEM;
        r = ini_make_absolute(name, &path);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                ini_report(diag, userdata, INI_ERROR, name, 0,
                           "cannot determine the absolute path: %s", strerror(-r));
                return r;
        }
        free(ini->path);
        ini->path = path;
        return ini_parse(&p, text, len);
}

int ini_load_string(Ini *ini, const char *name, const char *text, size_t len, const char *section,
                    IniDiagFunc diag, void *userdata) {
        if (!ini || !name || (!text && len > 0))
                return -EINVAL;
        return ini_load(ini, name, text ?: "", len, section, diag, userdata);
}

/* Reads a whole file, refusing more than INI_FILE_MAX bytes without reading much further. */
static int ini_read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        size_t len = 0, allocated = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (len == allocated) {
                        char *p;

                        if (len > INI_FILE_MAX)
                                return -EFBIG;
                        allocated = MIN(MAX(allocated * 2, (size_t) 4096), (size_t) INI_FILE_MAX + 1);
                        p = realloc(data, allocated);
                        if (!p)
                                return -ENOMEM;
                        data = p;
                }
                n = read(fd, data + len, allocated - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += n;
        }
        if (len > INI_FILE_MAX)
                return -EFBIG;
        *ret = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

/* Splits "FILE:SECTION". Only when the spec is not itself an existing file, and the part after
 * the last ':' is a plausible section name (not empty, no '/'), so "C:/x.ini" style or
 * "dir:with:colons/app.ini" paths still work. */
static int ini_split_spec(const char *spec, char **ret_file, char **ret_section) {
        const char *colon = strrchr(spec, ':');
        struct stat st;

        *ret_section = NULL;
        if (colon && colon != spec && colon[1] && !strchr(colon + 1, '/') &&
            stat(spec, &st) < 0) {
                *ret_file = strndup(spec, colon - spec);
                *ret_section = strdup(colon + 1);
                if (!*ret_file || !*ret_section) {
                        free(*ret_file);
                        free(*ret_section);
                        return -ENOMEM;
                }
                return 0;
        }
        *ret_file = strdup(spec);
        return *ret_file ? 0 : -ENOMEM;
}

int ini_load_file(Ini *ini, const char *path_spec, IniDiagFunc diag, void *userdata) {
        _cleanup_free_ char *file = NULL, *section = NULL, *text = NULL;
        size_t len = 0;
        int r;

        if (!ini || !path_spec)
                return -EINVAL;
        r = ini_split_spec(path_spec, &file, &section);
        if (r < 0)
                return r;
        r = ini_read_file(file, &text, &len);
        if (r == -EFBIG) {
                ini_report(diag, userdata, INI_ERROR, file, 0, "too large (limit %u bytes)",
                           INI_FILE_MAX);
                return r;
        }
        if (r < 0) {
                ini_report(diag, userdata, INI_ERROR, file, 0, "cannot read: %s", strerror(-r));
                return r;
        }
        return ini_load(ini, file, text, len, section, diag, userdata);
}
