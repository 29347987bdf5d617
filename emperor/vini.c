/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "vini.h"

#define F(field) offsetof(VassalIni, field)

/* The vassal's names for these keys (vassal/config.c), aliases included. */
static const ConfOption vini_options[] = {
        { "http-socket", CONF_STRV, F(http_sockets), 0, 0, NULL, NULL },
        { "http", CONF_STRV, F(http_sockets), 0, 0, NULL, NULL },
        { "http11-socket", CONF_STRV, F(http_sockets), 0, 0, NULL, NULL },
        { "socket", CONF_STRV, F(uwsgi_sockets), 0, 0, NULL, NULL },
        { "uwsgi-socket", CONF_STRV, F(uwsgi_sockets), 0, 0, NULL, NULL },
        { "chmod-socket", CONF_MODE, F(chmod_socket), 0, 0, NULL, NULL },
        { "chown-socket", CONF_STRING, F(chown_socket), 0, 0, NULL, NULL },
        { "listen", CONF_INT, F(listen), 1, 65535, NULL, NULL },
        { "uid", CONF_STRING, F(uid), 0, 0, NULL, NULL },
        { "gid", CONF_STRING, F(gid), 0, 0, NULL, NULL },
        { "reload-mercy", CONF_INT, F(reload_mercy), 1, 86400, NULL, NULL },
};

typedef struct Errors {
        char *text;
        size_t len;
} Errors;

/* Keeps errors only: warnings (unknown keys above all) are for `vassal --check` to report. */
static void on_diag(void *userdata, IniLevel level, const char *file, unsigned line,
                    const char *message) {
        Errors *e = userdata;
        char buf[1024];
        if (level != INI_ERROR)
                return;
        int n = line > 0 ? snprintf(buf, sizeof(buf), "%s:%u: %s\n", file, line, message)
                         : snprintf(buf, sizeof(buf), "%s: %s\n", file, message);
        if (n <= 0 || e->len > 16384)
                return;
        n = n >= (int) sizeof(buf) ? (int) sizeof(buf) - 1 : n;
        char *t = realloc(e->text, e->len + n + 1);
        if (!t)
                return;
        memcpy(t + e->len, buf, n + 1);
        e->text = t;
        e->len += n;
}

int vini_load(VassalIni *v, const char *path, char **ret_error) {
        _cleanup_(ini_freep) Ini *ini = ini_new();
        Errors errors = {};
        int r;

        *v = (VassalIni) { .chmod_socket = -1, .reload_mercy = 60 };
        *ret_error = NULL;
        if (!ini)
                return -ENOMEM;
        r = ini_load_file(ini, path, on_diag, &errors);
        if (r >= 0)
                r = conf_apply(vini_options, ELEMENTSOF(vini_options), v, ini, on_diag, &errors);
        if (r < 0) {
                if (errors.text && errors.len > 0 && errors.text[errors.len - 1] == '\n')
                        errors.text[errors.len - 1] = 0;
                *ret_error = errors.text ? errors.text : strdup(strerror(-r));
                return r;
        }
        free(errors.text);
        return 0;
}

void vini_done(VassalIni *v) {
        conf_free(vini_options, ELEMENTSOF(vini_options), v);
        *v = (VassalIni) { .chmod_socket = -1 };
}

size_t vini_sockets(const VassalIni *v, const char **ret, size_t max) {
        size_t n = 0;
        for (char **s = v->http_sockets; s && *s && n < max; s++)
                ret[n++] = *s;
        for (char **s = v->uwsgi_sockets; s && *s && n < max; s++)
                ret[n++] = *s;
        return n;
}
