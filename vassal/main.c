/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "exitcodes.h"
#include "log.h"
#include "master.h"
#include "optdoc.h"
#include "procname.h"
#include "reload.h"

static void help(void) {
        printf("Usage: vassal [--ini] FILE.ini[:section] [--KEY VALUE | --BOOLKEY ...]\n"
               "       vassal --http-socket :8080 --wsgi-file app.py [--processes 4 ...]\n"
               "       vassal --exec 'COMMAND ARGS' [--http-socket :8080 ...]\n"
               "       vassal --check FILE.ini\n\n"
               "Serves a Python WSGI app: a master with worker processes and threads, over\n"
               "HTTP/1.1 (http-socket) and the uwsgi protocol (socket). Or, with exec,\n"
               "supervises another program and hands it the sockets (LISTEN_FDS). Every ini key\n"
               "is also a command-line option, as in uWSGI.\n\n"
               "  --check                only validate the configuration\n"
               "  --dump-options=FORMAT  the reference of every key: man or readme\n"
               "  -v, --verbose          debug logging\n"
               "  -h, --help             this help\n"
               "      --version          the version\n\n"
               "Options:\n");
        vassal_config_help();
}

/* "app.ini" or "app.ini:section": an ini anywhere on the command line, as in
 * `vassal --check app.ini`. */
static bool looks_like_ini(const char *a) {
        size_t n = strlen(a);
        return (n > 4 && streq(a + n - 4, ".ini")) || strstr(a, ".ini:") != NULL;
}

/* Applies `env` and `chdir` before Python starts: the app sees both from its first line. A
 * failure is logged and described in error (for STATUS=). */
static int apply_environment(const VassalConfig *c, char *error, size_t size) {
        for (char **e = c->env; e && *e; e++) {
                char *eq = strchr(*e, '=');
                if (!eq) {
                        (void) snprintf(error, size, "env = %s: expected KEY=VALUE", *e);
                        log_error("%s", error);
                        return -EINVAL;
                }
                _cleanup_free_ char *key = strndup(*e, eq - *e);
                if (!key || setenv(key, eq + 1, 1) < 0)
                        return log_oom();
        }
        if (c->chdir && chdir(c->chdir) < 0) {
                (void) snprintf(error, size, "chdir = %s: %s", c->chdir, strerror(errno));
                log_error("%s", error);
                return -EINVAL;
        }
        return 0;
}

/* The command line a reload re-executes, with the ini as an absolute path: `chdir` moves the
 * master before its first reload, and `vassal uwsgi.ini` run in the project's directory would
 * then name nothing. Made once, kept for the process's life; argv itself when nothing needs
 * changing (or on OOM: the reload then fails as before, with its message). */
static char **argv_absolute_ini(int argc, char **argv, int index, size_t offset) {
        char cwd[PATH_MAX];

        if (index < 0 || argv[index][offset] == '/' || !getcwd(cwd, sizeof(cwd)))
                return argv;
        char **copy = calloc((size_t) argc + 1, sizeof(char *));
        if (!copy)
                return argv;
        memcpy(copy, argv, (size_t) argc * sizeof(char *));
        if (asprintf(&copy[index], "%.*s%s/%s", (int) offset, argv[index], cwd,
                     argv[index] + offset) < 0) {
                free(copy);
                return argv;
        }
        return copy;
}

int main(int argc, char **argv) {
        VassalConfig cfg;
        const char *ini = NULL;
        bool check = false;
        char **rest = calloc(argc + 1, sizeof(char *));
        int n_rest = 0, r;

        if (!rest)
                return EXIT_RUNTIME;
        /* First: the process title takes argv's bytes, so everything after reads copies. */
        (void) procname_init(argc, argv);
        int ini_index = -1;
        size_t ini_offset = 0;
        rest[n_rest++] = argv[0]; /* conf_parse_argv() skips it, as getopt does */
        /* Our own flags and the ini file; everything else is a config key (config.c). A first
         * argument that does not start with "--" is the ini, as in `vassal app.ini`. */
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (streq(a, "-h") || streq(a, "--help")) {
                        help();
                        free(rest);
                        return 0;
                } else if (streq(a, "--version")) {
                        printf("vassal " EMPEROR_VERSION "\n");
                        free(rest);
                        return 0;
                } else if (strncmp(a, "--dump-options=", 15) == 0) {
                        /* The key reference, for `make man` (optdoc.c). */
                        free(rest);
                        return optdoc_print(a + 15) < 0 ? EX_USAGE : 0;
                } else if (streq(a, "--check"))
                        check = true;
                else if (streq(a, "-v") || streq(a, "--verbose"))
                        log_set_max_level(LOG_DEBUG);
                else if (streq(a, "--ini") && i + 1 < argc)
                        ini = argv[ini_index = ++i];
                else if (strncmp(a, "--ini=", 6) == 0) {
                        ini = a + 6;
                        ini_index = i;
                        ini_offset = 6;
                } else if (!ini && a[0] != '-' && (i == 1 || looks_like_ini(a))) {
                        ini = a;
                        ini_index = i;
                } else
                        rest[n_rest++] = argv[i];
        }

        reload_save_argv(argv_absolute_ini(argc, argv, ini_index, ini_offset));

        /* "<N>" priority prefixes only when stderr is the journal (lib/log.h). */
        log_set_level_prefix(log_stderr_is_journal());

        vassal_config_init(&cfg);
        r = vassal_config_load(&cfg, ini, n_rest, rest);
        free(rest);
        if (r >= 0)
                r = vassal_config_verify(&cfg);
        if (r < 0) {
                vassal_config_done(&cfg);
                if (r != -EINVAL && r != -ENOENT && r != -EACCES)
                        return EXIT_RUNTIME;
                /* The supervisor shows it: "file:line: key: expected ...". */
                if (!check)
                        master_notify_error(vassal_config_error());
                return EX_CONFIG;
        }
        if (check && vassal_config_probe(&cfg) < 0) {
                vassal_config_done(&cfg);
                return EX_CONFIG;
        }
        if (check) {
                printf("%s: OK\n", cfg.ini_path ?: "command line");
                vassal_config_done(&cfg);
                return 0;
        }
        log_set_prefix(cfg.name);

        /* daemonize: the parent waits here until the master in the background is ready. */
        int code = 0;
        r = daemon_start(&cfg, &code);
        if (r != 0) {
                vassal_config_done(&cfg);
                return r > 0 ? code : EXIT_RUNTIME;
        }

        /* Block every signal we handle before any thread exists (Python may start some):
         * sd-event reads them from a signalfd, and workers inherit the mask. */
        sigset_t mask;
        sigemptyset(&mask);
        int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 };
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i]);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        char error[512] = "";
        r = apply_environment(&cfg, error, sizeof(error));
        if (r < 0) {
                vassal_config_done(&cfg);
                master_notify_error(error);
                return r == -EINVAL ? EX_CONFIG : EXIT_RUNTIME;
        }
        if (daemon_pidfile_write(&cfg) < 0) {
                vassal_config_done(&cfg);
                return EXIT_RUNTIME;
        }
        code = master_run(&cfg);
        daemon_pidfile_remove(&cfg);
        vassal_config_done(&cfg);
        return code;
}
