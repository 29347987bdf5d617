/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "conf.h"
#include "duration.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "procname.h"
#include "sysd.h"
#include "store.h"
#include "webproc.h"
#include "version.h"

#ifndef VASSAL_INSTALL_PATH
#define VASSAL_INSTALL_PATH "/usr/local/bin/vassal"
#endif
#ifndef WEB_INSTALL_PATH
#define WEB_INSTALL_PATH "/usr/local/sbin/emperor-web"
#endif

static void help(void) {
        printf("Usage: emperor [OPTIONS] [CONF_DIR]\n\n"
               "Runs one vassal per CONF_DIR/*.ini (default /etc/apps.d): a new ini starts,\n"
               "a changed or touched one reloads (blue-green, on the same sockets), a removed\n"
               "one stops. Answers emperorctl on RUN_DIR/control.sock.\n\n"
               "  --run-dir DIR          sockets (default /run/emperor)\n"
               "  --state-dir DIR        the stats store (default /var/lib/emperor)\n"
               "  --http ADDR            dashboard, API and metrics (emperor-web) on ADDR\n"
               "                         (default 127.0.0.1:9090; none: off)\n"
               "  --http-user USER       emperor-web's user (default emperor, else nobody)\n"
               "  --http-auth FILE       user:crypt-hash lines: the dashboard needs a login\n"
               "  --http-insecure        serve a non-loopback --http without --http-auth\n"
               "  --web PATH             the emperor-web program (default: next to emperor)\n"
               "  --stats-interval SECS  how often vassals report stats (default 1)\n"
               "  --retain-raw TIME      keep per-tick samples this long (default 24h; s/m/h/d)\n"
               "  --retain-minutes TIME  keep 1-minute rollups this long (default 30d)\n"
               "  --retain-hours TIME    keep 1-hour rollups and events this long (default 365d)\n"
               "  --store-max-size SIZE  the stats store's bound (default 200M): past it the oldest\n"
               "                         seconds, then minutes, then hours go first\n"
               "  --ready-timeout SECS   how long a new vassal may take to be ready (default 60)\n"
               "  --tyrant               run each vassal as the owner of its ini\n"
               "  --vassal PATH          the vassal program (default: next to emperor)\n"
               "  -v, --verbose          debug logging\n"
               "  -h, --help             this help\n"
               "      --version          the version\n");
}

/* A program next to our own binary (a build tree), else in the bin/ beside our sbin/ (an
 * installed tree, wherever DESTDIR put it), else the configured install path. */
static char *find_program(const char *const rel[2], const char *install_path) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = 0;
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        for (size_t k = 0; k < 2; k++) {
                                char *p;
                                if (asprintf(&p, "%s/%s", self, rel[k]) < 0)
                                        break;
                                if (access(p, X_OK) == 0)
                                        return p;
                                free(p);
                        }
                }
        }
        return strdup(install_path);
}

static int parse_uint(const char *s, unsigned max, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || end == s || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) s;
        /* `systemctl restart` sends the same SIGTERM as `systemctl stop`: only systemd knows
         * which it is (the unit has KillMode=process, so the fleet is ours to keep). */
        if (si->ssi_signo == SIGTERM && sysd_unit_restarting()) {
                log_notice("SIGTERM: systemd restarts the emperor: the vassals keep running");
                manager_detach(userdata, false);
                return 0;
        }
        log_notice("%s: stopping every vassal", strsignal(si->ssi_signo));
        manager_stop(userdata);
        return 0;
}

/* SIGQUIT: exit, leaving every vassal running for the next emperor to adopt. SIGUSR2: the same,
 * then this binary, from disk, takes over (an upgrade). */
static int on_detach(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) s;
        log_notice("%s: %s", strsignal(si->ssi_signo),
                   si->ssi_signo == SIGUSR2 ? "upgrading in place" : "detaching from the fleet");
        manager_detach(userdata, si->ssi_signo == SIGUSR2);
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) s;
        (void) si;
        log_notice("SIGHUP: rescanning");
        manager_rescan(userdata);
        return 0;
}

int main(int argc, char **argv) {
        enum { OPT_RUN_DIR = 256, OPT_STATE_DIR, OPT_HTTP, OPT_STATS, OPT_READY, OPT_TYRANT,
               OPT_VASSAL, OPT_VERSION, OPT_RETAIN_RAW, OPT_RETAIN_MINUTES, OPT_RETAIN_HOURS,
               OPT_STORE_MAX_SIZE, OPT_HTTP_USER, OPT_HTTP_AUTH, OPT_HTTP_INSECURE, OPT_WEB };
        static const struct option options[] = {
                { "run-dir", required_argument, NULL, OPT_RUN_DIR },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "http", required_argument, NULL, OPT_HTTP },
                { "http-user", required_argument, NULL, OPT_HTTP_USER },
                { "http-auth", required_argument, NULL, OPT_HTTP_AUTH },
                { "http-insecure", no_argument, NULL, OPT_HTTP_INSECURE },
                { "web", required_argument, NULL, OPT_WEB },
                { "stats-interval", required_argument, NULL, OPT_STATS },
                { "ready-timeout", required_argument, NULL, OPT_READY },
                { "tyrant", no_argument, NULL, OPT_TYRANT },
                { "vassal", required_argument, NULL, OPT_VASSAL },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                { "retain-raw", required_argument, NULL, OPT_RETAIN_RAW },
                { "retain-minutes", required_argument, NULL, OPT_RETAIN_MINUTES },
                { "retain-hours", required_argument, NULL, OPT_RETAIN_HOURS },
                { "store-max-size", required_argument, NULL, OPT_STORE_MAX_SIZE },
                {},
        };
        ManagerOptions o = {
                .conf_dir = "/etc/apps.d",
                .run_dir = "/run/emperor",
                .state_dir = "/var/lib/emperor",
                .stats_interval = 1,
                .ready_timeout = 60,
        };
        _cleanup_free_ char *vassal = NULL, *web = NULL;
        WebProcOptions wo = { .address = "127.0.0.1:9090" };
        int c, r;

        /* First: the process title takes argv's bytes (lib/procname.h); getopt and the
         * re-execution of an upgrade read copies. */
        (void) procname_init(argc, argv);
        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0)
                switch (c) {
                case OPT_RUN_DIR:
                        o.run_dir = optarg;
                        break;
                case OPT_STATE_DIR:
                        o.state_dir = optarg;
                        break;
                case OPT_HTTP:
                        wo.address = optarg;
                        break;
                case OPT_HTTP_USER:
                        wo.user = optarg;
                        break;
                case OPT_HTTP_AUTH:
                        wo.auth = optarg;
                        break;
                case OPT_HTTP_INSECURE:
                        wo.insecure = true;
                        break;
                case OPT_WEB:
                        free(web);
                        web = strdup(optarg);
                        break;
                case OPT_STATS:
                        if (parse_uint(optarg, 3600, &o.stats_interval) < 0) {
                                fprintf(stderr, "emperor: --stats-interval: expected seconds "
                                                "(0-3600), got '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_READY:
                        if (parse_uint(optarg, 86400, &o.ready_timeout) < 0 || o.ready_timeout == 0) {
                                fprintf(stderr, "emperor: --ready-timeout: expected seconds "
                                                "(1-86400), got '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_RETAIN_RAW:
                case OPT_RETAIN_MINUTES:
                case OPT_RETAIN_HOURS: {
                        uint64_t *v = c == OPT_RETAIN_RAW       ? &o.retain_raw
                                      : c == OPT_RETAIN_MINUTES ? &o.retain_minutes
                                                                : &o.retain_hours;
                        int64_t secs;
                        if (duration_parse(optarg, &secs) == 0) {
                                *v = secs;
                        } else {
                                fprintf(stderr, "emperor: --%s: expected a duration (90, 90s, 15m, "
                                                "24h, 30d, 2w), got '%s'\n",
                                        c == OPT_RETAIN_RAW       ? "retain-raw"
                                        : c == OPT_RETAIN_MINUTES ? "retain-minutes"
                                                                  : "retain-hours",
                                        optarg);
                                return 2;
                        }
                        break;
                }
                case OPT_STORE_MAX_SIZE:
                        if (conf_parse_size(optarg, &o.store_max_bytes) < 0 ||
                            o.store_max_bytes < STORE_MAX_BYTES_MIN) {
                                fprintf(stderr, "emperor: --store-max-size: expected a size of "
                                                "at least 1M (200M, 1G), got '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_TYRANT:
                        o.tyrant = true;
                        break;
                case OPT_VASSAL:
                        free(vassal);
                        vassal = strdup(optarg);
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        wo.verbose = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("emperor " EMPEROR_VERSION "\n");
                        return 0;
                default:
                        return 2;
                }
        if (optind + 1 < argc) {
                fprintf(stderr, "emperor: one conf dir only (got '%s' and '%s')\n", argv[optind],
                        argv[optind + 1]);
                return 2;
        }
        if (optind < argc)
                o.conf_dir = argv[optind];
        if (!vassal)
                vassal = find_program((const char *const[]) { "vassal", "../bin/vassal" },
                                      VASSAL_INSTALL_PATH);
        if (!web)
                web = find_program((const char *const[]) { "emperor-web", "../sbin/emperor-web" },
                                   WEB_INSTALL_PATH);
        if (!vassal || !web)
                return EXIT_FAILURE;
        o.vassal_path = vassal;
        wo.program = web;

        log_set_level_prefix(log_stderr_is_journal());
        log_set_prefix("emperor");

        /* Signals: blocked before anything else (sd-event reads them from a signalfd), and
         * reset in every child before exec (spawn.c). */
        sigset_t mask;
        sigemptyset(&mask);
        int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
        for (size_t k = 0; k < ELEMENTSOF(sigs); k++)
                sigaddset(&mask, sigs[k]);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* Orphaned grandchildren of vassals come to us, to be reaped and killed. */
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1);

        if (mkdir(o.run_dir, 0755) < 0 && errno != EEXIST) {
                log_error_errno(errno, "Cannot create run dir '%s': %m", o.run_dir);
                return EXIT_FAILURE;
        }
        /* Absolute: vassals get NOTIFY_SOCKET from it and run in directories of their own. */
        _cleanup_free_ char *run_dir = realpath(o.run_dir, NULL);
        if (!run_dir) {
                log_error_errno(errno, "run dir '%s': %m", o.run_dir);
                return EXIT_FAILURE;
        }
        o.run_dir = run_dir;
        if (access(o.vassal_path, X_OK) < 0)
                log_warning_errno(errno, "vassal program '%s': %m", o.vassal_path);

        /* The binary as it is named on disk, for an upgrade to run what is installed there
         * now (/proc/self/exe is the old, maybe deleted, file). */
        char self[PATH_MAX];
        ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (self_len <= 0 || self_len >= (ssize_t) sizeof(self) - 1)
                strcpy(self, "/proc/self/exe");
        else {
                self[self_len] = 0;
                char *deleted = strstr(self, " (deleted)");
                if (deleted && deleted[10] == 0)
                        *deleted = 0;
        }

        _cleanup_(manager_freep) Manager *m = NULL;
        r = manager_new(&o, &m);
        if (r < 0)
                return EXIT_FAILURE;
        r = sd_event_add_signal(manager_event(m), NULL, SIGTERM, on_term, m);
        if (r >= 0)
                r = sd_event_add_signal(manager_event(m), NULL, SIGINT, on_term, m);
        if (r >= 0)
                r = sd_event_add_signal(manager_event(m), NULL, SIGHUP, on_hup, m);
        if (r >= 0)
                r = sd_event_add_signal(manager_event(m), NULL, SIGQUIT, on_detach, m);
        if (r >= 0)
                r = sd_event_add_signal(manager_event(m), NULL, SIGUSR2, on_detach, m);
        if (r >= 0)
                r = sd_event_set_watchdog(manager_event(m), true);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the event loop: %m");
                return EXIT_FAILURE;
        }
        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        /* The dashboard: its own process, supervised here (webproc.h); freed before the
         * manager, whose loop and pid index it uses. */
        _cleanup_(webproc_freep) WebProc *webproc = NULL;
        r = webproc_new(m, &wo, &webproc);
        if (r < 0)
                return EXIT_FAILURE;
        log_notice("watching '%s' (%zu vassal(s)), control on %s/control.sock", manager_conf_dir(m),
                   manager_size(m), manager_run_dir(m));
        (void) sd_notify(0, "READY=1");
        manager_update_status(m);
        /* `ps`: "emperor /etc/apps.d", which fleet it is; comm "emperor". */
        _cleanup_free_ char *title = NULL;
        if (asprintf(&title, "emperor %s", manager_conf_dir(m)) >= 0)
                procname_set(title, "emperor");

        r = sd_event_loop(manager_event(m));
        if (r < 0) {
                log_error_errno(r, "event loop: %m");
                return EXIT_FAILURE;
        }
        if (manager_upgrading(m)) {
                /* Everything is recorded in RUN_DIR; the new binary adopts it, as after a
                 * crash, except that the vassals are still our children. */
                m = manager_free(m);
                log_notice("re-executing '%s'", self);
                (void) sd_notify(0, "RELOADING=1");
                execv(self, argv);
                log_error_errno(errno, "Cannot re-execute '%s': %m; trying /proc/self/exe", self);
                execv("/proc/self/exe", argv);
                log_error_errno(errno, "Cannot re-execute the emperor: %m; the vassals run on, "
                                "unsupervised until an emperor starts");
                return EXIT_FAILURE;
        }
        log_notice(manager_detaching(m) ? "detached: the vassals run on" : "stopped");
        return EXIT_SUCCESS;
}
