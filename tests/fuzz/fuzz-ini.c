/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the ini language and the vassal's shared key table: any bytes, parsed
 * as a file, then applied to the table the emperor and emperorctl read (lib/vini.h: the
 * vassal's own socket, credentials, stop, logging and workdir rows from lib/vkeys.h), then the
 * same Ini grown from a "command line". Must never crash or leak, and after each
 * conf_apply(): no value out of its bounds was stored, no repeated key lost a value, the last
 * value of a key is the one kept, and a failure was reported as an error. vini_load_string()
 * runs on the same bytes and must agree. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "ini.h"
#include "vini.h"
#include "vkeys.h"

typedef struct Diags {
        size_t sum;
        unsigned errors;
} Diags;

/* Touches every byte of every message, so a bad pointer or missing NUL shows up under ASan. */
static void on_diag(void *userdata, IniLevel level, const char *file, unsigned line,
                    const char *message) {
        Diags *d = userdata;

        d->sum += strlen(file) + strlen(message) + (size_t) level + line;
        d->errors += level == INI_ERROR;
}

static size_t strv_length(char **v) {
        size_t n = 0;

        while (v && v[n])
                n++;
        return n;
}

/* The defaults vini_load() starts from (lib/vkeys.h). */
static void vini_defaults(VassalIni *v) {
        VassalIni empty;
        char *error = NULL;

        CHECK(vini_load_string(&empty, "/x.ini", "[uwsgi]\n", 8, &error) == 0 || error);
        free(error);
        *v = empty;
}

/* Applies ini to a fresh VassalIni and checks what conf_apply() promises. */
static void apply_and_check(Ini *ini, Diags *d) {
        size_t n_table, sockets = 0, touches = 0;
        const ConfOption *table = vini_table(&n_table);
        const char *last_mercy = NULL;
        unsigned errors = d->errors;
        VassalIni c;
        int r;

        vini_defaults(&c);
        r = conf_apply(table, n_table, &c, ini, on_diag, d);
        if (r == -ENOMEM)
                goto done;
        CHECK(r == 0 || r == -EINVAL);
        CHECK(r == 0 || d->errors > errors); /* a failure is always said */
        /* Bad values are refused, never stored: the default, or within the row's bounds. */
        CHECK(c.listen == 0 || (c.listen >= 1 && c.listen <= 65535));
        CHECK(c.reload_mercy >= 1 && c.reload_mercy <= 86400);
        CHECK(c.worker_reload_mercy >= 1 && c.worker_reload_mercy <= 86400);
        CHECK(c.log_maxbackups >= 0 && c.log_maxbackups <= 1000000);
        CHECK(c.chmod_socket == -1 || (c.chmod_socket >= 0 && c.chmod_socket <= 07777));
        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);
                const ConfOption *o = conf_find(table, n_table, e->key);
                const char *why = NULL;
                if (o && (o->offset == offsetof(VassalIni, http_sockets) ||
                          o->offset == offsetof(VassalIni, uwsgi_sockets))) {
                        /* A bad address is refused (and said), never stored. */
                        if (vkeys_parse_address(o, e->value, NULL, &why) == 0)
                                sockets++;
                        else
                                CHECK(r == -EINVAL && why);
                } else if (o && (o->offset == offsetof(VassalIni, touch_logreopen)))
                        touches++;
                else if (strcmp(e->key, "reload-mercy") == 0)
                        last_mercy = e->value;
        }
        /* A repeated key keeps every (good) value, in order, aliases included. */
        CHECK(strv_length(c.http_sockets) + strv_length(c.uwsgi_sockets) == sockets);
        CHECK(strv_length(c.touch_logreopen) == touches);
        /* Every value was good: the last one of a key is what holds. */
        if (r == 0 && last_mercy) {
                int64_t want;
                CHECK(conf_parse_int(last_mercy, &want) == 0 && c.reload_mercy == want);
        }
done:
        vini_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *argv[] = { "vassal", "--socket", "%(chdir)/x", "app.ini", "--log-compress",
                         "--touch-logreopen", "%n=%d", "--listen=7", NULL };
        size_t n, n_table;
        const ConfOption *table = vini_table(&n_table);
        char *positional[1], *error = NULL;
        Diags d = {};
        VassalIni v;
        Ini *ini;
        int r, k;

        ini = ini_new();
        if (!ini)
                return 0;
        r = ini_load_string(ini, "/srv/apps/fuzz.ini", (const char *) data, size, NULL, on_diag,
                            &d);
        /* Whatever the load left behind must be consistent enough to apply, read and extend. */
        apply_and_check(ini, &d);

        /* The reader the emperor uses agrees: it fails exactly when load or apply does, and
         * then says why. */
        k = vini_load_string(&v, "/srv/apps/fuzz.ini", (const char *) data, size, &error);
        if (k != -ENOMEM && r != -ENOMEM) {
                Diags quiet = {};
                VassalIni c;
                vini_defaults(&c);
                int a = r < 0 ? r : conf_apply(table, n_table, &c, ini, NULL, &quiet);
                vini_done(&c);
                if (a != -ENOMEM)
                        CHECK((k < 0) == (a < 0));
                CHECK(k == 0 || (error && error[0]));
        }
        free(error);
        vini_done(&v);

        (void) ini_get(ini, "chdir");
        (void) conf_parse_argv(table, n_table, ELEMENTSOF(argv) - 1, argv, ini, positional,
                               ELEMENTSOF(positional), &n, on_diag, &d);
        apply_and_check(ini, &d);
        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);

                d.sum += strlen(e->key) + strlen(e->value) + strlen(e->file);
        }
        ini_free(ini);
        return 0;
}
