/* SPDX-License-Identifier: MIT */
/* emperor-web: the dashboard, the JSON API and /metrics, in a process of their own.
 *
 * Privilege separation (OpenBSD httpd's model): the emperor (root) binds the listener and
 * starts this program with it as LISTEN_FDS; emperor-web, still root for a moment, opens what
 * its user may not (the control socket, the stats store, the --http-auth file), then becomes
 * --user for good (no groups, no way back, no new privileges) before it reads a single byte
 * from the network. From then on it talks to the emperor only through the control socket,
 * as emperorctl does, and reads the store read-only: a flood of requests or a bug here can
 * cost the dashboard, never supervision. It exits when the emperor closes the control
 * connection; the emperor restarts it when it dies.
 *
 * Standalone (for a try-out, or tests): `emperor-web --listen 127.0.0.1:9090 --run-dir DIR
 * --state-dir DIR` binds by itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "auth.h"
#include "fleet.h"
#include "log.h"
#include "server.h"
#include "sockutil.h"
#include "users.h"
#include "version.h"
#include "webapi.h"

static void help(void) {
        printf("Usage: emperor-web [OPTIONS]\n\n"
               "The emperor's dashboard, JSON API and /metrics. The emperor starts it (emperor\n"
               "--http ADDR) with the listener as LISTEN_FDS; it may also run by itself.\n\n"
               "  --listen ADDR       bind ADDR when no listener is passed\n"
               "                      (default 127.0.0.1:9090)\n"
               "  --run-dir DIR       the emperor's run dir, for DIR/control.sock\n"
               "                      (default /run/emperor)\n"
               "  --state-dir DIR     the stats store: DIR/stats.db (default /var/lib/emperor)\n"
               "  --user USER         the user to run as once set up (when started as root)\n"
               "  --auth FILE         user:crypt-hash lines; the UI and API need a login\n"
               "  --insecure          serve a non-loopback address without --auth\n"
               "  --emperor-pid PID   whose memory and uptime /metrics shows (default: parent)\n"
               "  --tyrant            the emperor's --tyrant: without --auth a caller sees the\n"
               "                      vassals whose ini its uid owns (loopback and unix peers)\n"
               "  -v, --verbose       debug logging\n"
               "  -h, --help          this help\n"
               "      --version       the version\n");
}

static int control_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A listening unix socket with room in its backlog accepts at once, even non-blocking. */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return TAKE_FD(fd);
}


/* Becomes user for good: no supplementary groups, its gid and uid, no new privileges (setuid
 * binaries, file capabilities); refuses to go on if root could be taken back. */
static int drop_privileges(const char *user) {
        uid_t uid;
        gid_t gid;
        pid_t parent = getppid();
        int r = user_resolve(user, &uid, &gid, NULL);
        if (r < 0)
                return log_error_errno(r, "--user '%s': %m", user);
        if (gid == (gid_t) -1)
                gid = (gid_t) uid;
        if (uid == 0)
                return log_error_errno(EPERM, "--user '%s' is root: refusing to serve as root",
                                       user);
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0)
                return log_error_errno(errno, "Cannot become '%s': %m", user);
        if (setuid(0) == 0)
                return log_error_errno(EPERM, "root could be taken back after dropping it");
        (void) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        /* The kernel clears the parent-death signal when credentials change: set it again, so
         * emperor-web ends with the emperor that started it. */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                return log_error_errno(ESRCH, "the emperor is gone");
        log_debug("running as '%s' (uid %d, gid %d)", user, (int) uid, (int) gid);
        return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) si;
        (void) userdata;
        return sd_event_exit(sd_event_source_get_event(s), EXIT_SUCCESS);
}

int main(int argc, char **argv) {
        enum { OPT_LISTEN = 256, OPT_RUN_DIR, OPT_STATE_DIR, OPT_USER, OPT_AUTH, OPT_INSECURE,
               OPT_EMPEROR_PID, OPT_TYRANT, OPT_VERSION };
        static const struct option options[] = {
                { "listen", required_argument, NULL, OPT_LISTEN },
                { "run-dir", required_argument, NULL, OPT_RUN_DIR },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "user", required_argument, NULL, OPT_USER },
                { "auth", required_argument, NULL, OPT_AUTH },
                { "insecure", no_argument, NULL, OPT_INSECURE },
                { "emperor-pid", required_argument, NULL, OPT_EMPEROR_PID },
                { "tyrant", no_argument, NULL, OPT_TYRANT },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        const char *listen_addr = "127.0.0.1:9090", *run_dir = "/run/emperor",
                   *state_dir = "/var/lib/emperor", *user = NULL, *auth_path = NULL;
        bool insecure = false, tyrant = false;
        pid_t emperor_pid = getppid();
        int c, r;

        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0)
                switch (c) {
                case OPT_LISTEN:
                        listen_addr = optarg;
                        break;
                case OPT_RUN_DIR:
                        run_dir = optarg;
                        break;
                case OPT_STATE_DIR:
                        state_dir = optarg;
                        break;
                case OPT_USER:
                        user = optarg;
                        break;
                case OPT_AUTH:
                        auth_path = optarg;
                        break;
                case OPT_INSECURE:
                        insecure = true;
                        break;
                case OPT_TYRANT:
                        tyrant = true;
                        break;
                case OPT_EMPEROR_PID:
                        emperor_pid = (pid_t) atoi(optarg);
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("emperor-web " EMPEROR_VERSION "\n");
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "emperor-web: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        log_set_level_prefix(getenv("JOURNAL_STREAM") || getenv("NOTIFY_SOCKET"));
        log_set_prefix("emperor-web");

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* The listener: the emperor's (bound as root, so any port), or our own. */
        int fd;
        r = sd_listen_fds(true);
        if (r > 1)
                return log_error_errno(EINVAL, "expected one listener, got %d", r), EXIT_FAILURE;
        if (r == 1) {
                fd = SD_LISTEN_FDS_START;
                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        } else {
                _cleanup_free_ char *unix_path = NULL;
                fd = socket_listen(listen_addr, SOMAXCONN, -1, NULL, &unix_path);
                if (fd < 0) {
                        log_error_errno(fd, "Cannot listen on '%s': %m", listen_addr);
                        return EXIT_FAILURE;
                }
        }
        if (!auth_path && !insecure && !socket_is_local(fd)) {
                log_error("refusing to serve a non-loopback address without --http-auth "
                          "(or --http-insecure)");
                return EX_CONFIG; /* the emperor does not retry */
        }

        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        r = sd_event_default(&e);
        if (r < 0)
                return log_error_errno(r, "event loop: %m"), EXIT_FAILURE;

        _cleanup_free_ char *control_path = NULL, *db_path = NULL;
        if (asprintf(&control_path, "%s/control.sock", run_dir) < 0 ||
            asprintf(&db_path, "%s/stats.db", state_dir) < 0)
                return log_oom(), EXIT_FAILURE;
        int cfd = control_connect(control_path);
        if (cfd < 0)
                return log_error_errno(cfd, "Cannot connect to '%s': %m", control_path),
                       EXIT_FAILURE;
        Fleet *fleet = NULL;
        r = fleet_new(e, cfd, &fleet);
        if (r < 0)
                return log_error_errno(r, "control: %m"), EXIT_FAILURE;

        WebApi *api = webapi_new(db_path);
        if (!api)
                return log_oom(), EXIT_FAILURE;
        char error[512];
        r = webapi_open(api, error, sizeof(error));
        if (r < 0)
                log_warning("%s: the history API answers 503 until emperor-web restarts", error);

        Auth *auth = NULL;
        if (auth_path) {
                r = auth_new(auth_path, &auth, error, sizeof(error));
                if (r < 0) {
                        log_error("--http-auth: %s", error);
                        return EX_CONFIG;
                }
        }

        if (user && geteuid() == 0) {
                r = drop_privileges(user);
                if (r < 0)
                        return EXIT_FAILURE;
        } else if (geteuid() == 0)
                log_warning("running as root: give --user");

        Server *server = NULL;
        r = server_new(e, &(ServerOptions) { .fd = fd, .fleet = fleet, .api = api, .auth = auth,
                                             .emperor_pid = emperor_pid, .tyrant = tyrant,
                                             .insecure = insecure },
                       &server);
        if (r < 0)
                return log_error_errno(r, "server: %m"), EXIT_FAILURE;
        r = sd_event_add_signal(e, NULL, SIGTERM, on_term, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, on_term, NULL);
        if (r < 0)
                return log_error_errno(r, "signals: %m"), EXIT_FAILURE;
        log_info("serving the dashboard%s", auth ? " (login required)" : "");

        r = sd_event_loop(e);
        server_free(server);
        fleet_free(fleet);
        webapi_free(api);
        auth_free(auth);
        return r == EXIT_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
}
