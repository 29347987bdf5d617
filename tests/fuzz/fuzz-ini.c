/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the ini language: any bytes, parsed as a file, then applied to a small
 * typed table, then the same Ini grown from a "command line". Must never crash or leak, and
 * after each conf_apply(): no value out of its bounds was stored, no repeated key lost a
 * value, the last value of a key is the one kept, and a failure was reported as an error. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "ini.h"

typedef struct FuzzConfig {
        bool master;
        int64_t processes;
        int64_t nice;
        uint64_t buffer_size;
        uint64_t limit;
        char *chdir;
        char **env;
        int chmod_socket;
} FuzzConfig;

static const ConfOption fuzz_options[] = {
        { .name = "master", .type = CONF_BOOL, .offset = offsetof(FuzzConfig, master) },
        { .name = "processes", .type = CONF_INT, .offset = offsetof(FuzzConfig, processes),
          .min = 1, .max = INT64_MAX },
        { .name = "nice", .type = CONF_INT, .offset = offsetof(FuzzConfig, nice), .min = -20, .max = 19 },
        { .name = "buffer-size", .type = CONF_SIZE, .offset = offsetof(FuzzConfig, buffer_size) },
        { .name = "limit-as", .type = CONF_SIZE, .offset = offsetof(FuzzConfig, limit),
          .min = 1 << 20, .max = INT64_MAX },
        { .name = "chdir", .type = CONF_STRING, .offset = offsetof(FuzzConfig, chdir) },
        { .name = "env", .type = CONF_STRV, .offset = offsetof(FuzzConfig, env) },
        { .name = "chmod-socket", .type = CONF_MODE, .offset = offsetof(FuzzConfig, chmod_socket) },
        { .name = "daemonize", .type = CONF_IGNORED, .help = "the emperor supervises vassals" },
};

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

/* Applies ini to a fresh config and checks what conf_apply() promises. */
static void apply_and_check(Ini *ini, Diags *d) {
        FuzzConfig c = {};
        unsigned errors = d->errors;
        size_t envs = 0, n_env = 0;
        const char *last_processes = NULL;
        int r = conf_apply(fuzz_options, ELEMENTSOF(fuzz_options), &c, ini, on_diag, d);

        if (r == -ENOMEM)
                goto done;
        CHECK(r == 0 || r == -EINVAL);
        CHECK(r == 0 || d->errors > errors); /* a failure is always said */
        /* Bad values are refused, never stored. */
        CHECK(c.processes == 0 || c.processes >= 1);
        CHECK(c.nice >= -20 && c.nice <= 19);
        CHECK(c.limit == 0 || c.limit >= 1 << 20);
        CHECK(c.chmod_socket >= 0 && c.chmod_socket <= 07777);
        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);
                if (strcmp(e->key, "env") == 0)
                        envs++;
                else if (strcmp(e->key, "processes") == 0)
                        last_processes = e->value;
        }
        /* A repeated key keeps every value, in order. */
        for (char **v = c.env; v && *v; v++)
                n_env++;
        CHECK(n_env == envs);
        /* Every value was good: the last one of a key is what holds. */
        if (r == 0 && last_processes) {
                int64_t want;
                CHECK(conf_parse_int(last_processes, &want) == 0 && c.processes == want);
        }
done:
        conf_free(fuzz_options, ELEMENTSOF(fuzz_options), &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *argv[] = { "vassal", "--master", "app.ini", "--chdir=%(chdir)/x", "--env", "%n=%d",
                         NULL };
        char *positional[1];
        Diags d = {};
        size_t n;
        Ini *ini;

        ini = ini_new();
        if (!ini)
                return 0;
        (void) ini_load_string(ini, "/srv/apps/fuzz.ini", (const char *) data, size, NULL, on_diag,
                               &d);
        /* Whatever the load left behind must be consistent enough to apply, read and extend. */
        apply_and_check(ini, &d);
        (void) ini_get(ini, "chdir");
        (void) conf_parse_argv(fuzz_options, ELEMENTSOF(fuzz_options), ELEMENTSOF(argv) - 1, argv,
                               ini, positional, ELEMENTSOF(positional), &n, on_diag, &d);
        apply_and_check(ini, &d);
        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);

                d.sum += strlen(e->key) + strlen(e->value) + strlen(e->file);
        }
        ini_free(ini);
        return 0;
}
