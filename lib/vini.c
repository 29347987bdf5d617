/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "vini.h"
#include "vkeys.h"

/* Past this, further errors are dropped: the first ones say what is wrong. */
#define VINI_ERRORS_MAX 16384U

static const ConfOption vini_options[] = {
        VKEYS_SOCKET_OPTIONS(VassalIni),
        VKEYS_CREDENTIALS_OPTIONS(VassalIni),
        VKEYS_STOP_OPTIONS(VassalIni),
        VKEYS_LOGGING_OPTIONS(VassalIni),
        VKEYS_WORKDIR_OPTIONS(VassalIni),
};

const ConfOption *vini_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(vini_options);
        return vini_options;
}

static void vini_init(VassalIni *v) {
        *v = (VassalIni) { VKEYS_SOCKET_DEFAULTS, VKEYS_STOP_DEFAULTS };
}

typedef struct Errors {
        char *text;
        size_t len;
} Errors;

/* Keeps errors only: warnings (unknown keys above all) are for `vassal --check` to report. */
static void on_diag(void *userdata, IniLevel level, const char *file, unsigned line,
                    const char *message) {
        Errors *e = userdata;
        char buf[1024];
        char *t;
        int n;

        if (level != INI_ERROR)
                return;
        n = line > 0 ? snprintf(buf, sizeof(buf), "%s:%u: %s\n", file, line, message)
                     : snprintf(buf, sizeof(buf), "%s: %s\n", file, message);
        if (n <= 0 || e->len > VINI_ERRORS_MAX)
                return;
        n = n >= (int) sizeof(buf) ? (int) sizeof(buf) - 1 : n;
        t = realloc(e->text, e->len + n + 1);
        if (!t)
                return;
        memcpy(t + e->len, buf, n + 1);
        e->text = t;
        e->len += n;
}

/* Applies what ini_load_*() left in ini (r its result). */
static int vini_finish(VassalIni *v, Ini *ini, int r, Errors *errors, char **ret_error) {
        if (r >= 0)
                r = conf_apply(vini_options, ELEMENTSOF(vini_options), v, ini, on_diag, errors);
        if (r < 0) {
                if (errors->text && errors->len > 0 && errors->text[errors->len - 1] == '\n')
                        errors->text[errors->len - 1] = 0;
                *ret_error = errors->text ? errors->text : strdup(strerror(-r));
                return r;
        }
        free(errors->text);
        return 0;
}

int vini_load(VassalIni *v, const char *path, char **ret_error) {
        _cleanup_(ini_freep) Ini *ini = ini_new();
        Errors errors = {};

        vini_init(v);
        *ret_error = NULL;
        if (!ini)
                return -ENOMEM;
        return vini_finish(v, ini, ini_load_file(ini, path, on_diag, &errors), &errors,
                           ret_error);
}

int vini_load_string(VassalIni *v, const char *name, const char *text, size_t len,
                     char **ret_error) {
        _cleanup_(ini_freep) Ini *ini = ini_new();
        Errors errors = {};

        vini_init(v);
        *ret_error = NULL;
        if (!ini)
                return -ENOMEM;
        return vini_finish(v, ini, ini_load_string(ini, name, text, len, NULL, on_diag, &errors),
                           &errors, ret_error);
}

void vini_done(VassalIni *v) {
        conf_free(vini_options, ELEMENTSOF(vini_options), v);
        vini_init(v);
}

size_t vini_sockets(const VassalIni *v, const char **ret, size_t max) {
        size_t n = 0;

        for (char **s = v->http_sockets; s && *s && n < max; s++)
                ret[n++] = *s;
        for (char **s = v->uwsgi_sockets; s && *s && n < max; s++)
                ret[n++] = *s;
        return n;
}
