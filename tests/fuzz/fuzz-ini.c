/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the ini language: any bytes, parsed as a file, then applied to a small
 * typed table, then the same Ini grown from a "command line". Must never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Touches every byte of every message, so a bad pointer or missing NUL shows up under ASan. */
static void on_diag(void *userdata, IniLevel level, const char *file, unsigned line,
                    const char *message) {
        size_t *sum = userdata;

        *sum += strlen(file) + strlen(message) + (size_t) level + line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *argv[] = { "vassal", "--master", "app.ini", "--chdir=%(chdir)/x", "--env", "%n=%d",
                         NULL };
        FuzzConfig config = {};
        char *positional[1];
        size_t sum = 0, n;
        Ini *ini;

        ini = ini_new();
        if (!ini)
                return 0;
        (void) ini_load_string(ini, "/srv/apps/fuzz.ini", (const char *) data, size, NULL, on_diag,
                               &sum);
        /* Whatever the load left behind must be consistent enough to apply, read and extend. */
        (void) conf_apply(fuzz_options, ELEMENTSOF(fuzz_options), &config, ini, on_diag, &sum);
        (void) ini_get(ini, "chdir");
        (void) conf_parse_argv(fuzz_options, ELEMENTSOF(fuzz_options), ELEMENTSOF(argv) - 1, argv,
                               ini, positional, ELEMENTSOF(positional), &n, on_diag, &sum);
        (void) conf_apply(fuzz_options, ELEMENTSOF(fuzz_options), &config, ini, on_diag, &sum);
        for (size_t i = 0; i < ini_size(ini); i++) {
                const IniEntry *e = ini_entry(ini, i);

                sum += strlen(e->key) + strlen(e->value) + strlen(e->file);
        }
        conf_free(fuzz_options, ELEMENTSOF(fuzz_options), &config);
        ini_free(ini);
        return 0;
}
