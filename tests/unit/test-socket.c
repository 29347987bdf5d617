/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "socket.h"
#include "sockutil.h"

typedef struct Fixture {
        char dir[64]; /* a private temp directory for socket files */
        char path[PATH_MAX];
        VassalConfig c;
        ListenerSet set;
} Fixture;

static void unset_listen_env(void) {
        (void) unsetenv("LISTEN_PID");
        (void) unsetenv("LISTEN_FDS");
        (void) unsetenv("LISTEN_FDNAMES");
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-socket-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        (void) snprintf(f->path, sizeof(f->path), "%s/app.sock", f->dir);
        vassal_config_init(&f->c);
        unset_listen_env();
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        listeners_close(&f->set, true);
        vassal_config_done(&f->c);
        unset_listen_env();
        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* Fills f->c from command-line options (NULL-terminated), as the vassal would. */
static void configure(Fixture *f, ...) {
        char *argv[32] = { (char *) "vassal" };
        int argc = 1;
        va_list ap;

        va_start(ap, f);
        for (char *a; (a = va_arg(ap, char *));) {
                assert_true(argc < 31);
                argv[argc++] = a;
        }
        va_end(ap);
        vassal_config_done(&f->c);
        vassal_config_init(&f->c);
        assert_int_equal(vassal_config_load(&f->c, NULL, argc, argv), 0);
}

static int sockopt(int fd, int level, int name) {
        int v = -1;
        socklen_t len = sizeof(v);

        assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
        return v;
}

/* A listener's fd is listening, non-blocking and close-on-exec. */
static void assert_listening(int fd) {
        assert_true(fd >= 0);
        assert_int_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
        assert_int_equal(sockopt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static int connect_unix(const char *path) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_true(strlen(path) < sizeof(un.sun_path));
        strcpy(un.sun_path, path);
        int r = connect(fd, (struct sockaddr *) &un, sizeof(un)) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* A unix socket file at path whose socket is gone, as a crashed vassal leaves it. */
static void make_stale_socket(const char *path) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        strcpy(un.sun_path, path);
        assert_int_equal(bind(fd, (struct sockaddr *) &un, sizeof(un)), 0);
        close(fd);
}

static void assert_is_socket_file(const char *path, mode_t mode) {
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        if (mode)
                assert_int_equal(st.st_mode & 07777, mode);
}

/* ---- sockaddr_parse ---- */

static void assert_ipv4(const char *address, uint32_t host_addr, uint16_t port) {
        struct sockaddr_storage ss;
        socklen_t len = 0;

        assert_int_equal(sockaddr_parse(address, &ss, &len), 0);
        const struct sockaddr_in *in = (const struct sockaddr_in *) &ss;
        assert_int_equal(in->sin_family, AF_INET);
        assert_int_equal(ntohl(in->sin_addr.s_addr), host_addr);
        assert_int_equal(ntohs(in->sin_port), port);
        assert_int_equal(len, sizeof(struct sockaddr_in));
}

static void test_port_alone_means_every_ipv4_address(void **state) {
        (void) state;
        assert_ipv4(":8080", INADDR_ANY, 8080);
        assert_ipv4("*:80", INADDR_ANY, 80);
        assert_ipv4("0.0.0.0:0", INADDR_ANY, 0);
}

static void test_ipv4_address_and_port(void **state) {
        (void) state;
        assert_ipv4("127.0.0.1:80", INADDR_LOOPBACK, 80);
        assert_ipv4("10.1.2.3:65535", 0x0a010203, 65535);
}

static void test_bracketed_ipv6_address_and_port(void **state) {
        struct sockaddr_storage ss;
        socklen_t len = 0;

        (void) state;
        assert_int_equal(sockaddr_parse("[::1]:8080", &ss, &len), 0);
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &ss;
        assert_int_equal(in6->sin6_family, AF_INET6);
        assert_int_equal(ntohs(in6->sin6_port), 8080);
        assert_memory_equal(&in6->sin6_addr, &in6addr_loopback, sizeof(struct in6_addr));
        assert_int_equal(len, sizeof(struct sockaddr_in6));

        assert_int_equal(sockaddr_parse("[::]:443", &ss, &len), 0);
        assert_memory_equal(&in6->sin6_addr, &in6addr_any, sizeof(struct in6_addr));
        assert_int_equal(ntohs(in6->sin6_port), 443);
}

static void test_unix_paths(void **state) {
        static const char *const paths[] = { "/tmp/x.sock", "./rel.sock", "run/app.sock" };
        struct sockaddr_storage ss;
        socklen_t len = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                assert_int_equal(sockaddr_parse(paths[i], &ss, &len), 0);
                const struct sockaddr_un *un = (const struct sockaddr_un *) &ss;
                assert_int_equal(un->sun_family, AF_UNIX);
                assert_string_equal(un->sun_path, paths[i]);
                assert_int_equal(len,
                                 offsetof(struct sockaddr_un, sun_path) + strlen(paths[i]) + 1);
        }
}

static void test_abstract_unix_name(void **state) {
        struct sockaddr_storage ss;
        socklen_t len = 0;

        (void) state;
        assert_int_equal(sockaddr_parse("@abstract", &ss, &len), 0);
        const struct sockaddr_un *un = (const struct sockaddr_un *) &ss;
        assert_int_equal(un->sun_family, AF_UNIX);
        assert_int_equal(un->sun_path[0], 0);
        assert_memory_equal(un->sun_path + 1, "abstract", 8);
        /* No trailing NUL: it would be part of the abstract name. */
        assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 9);
}

static void test_bad_addresses_are_refused(void **state) {
        static const char *const bad[] = {
                "", "x:99999", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:8x",
                ":http", "[::1", "[::1]", "[::1]:99999", "[::1]x:80", "[]:80", "[zz::1]:80",
                "[127.0.0.1]:80",
        };
        struct sockaddr_storage ss;
        socklen_t len = 0;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (sockaddr_parse(bad[i], &ss, &len) != -EINVAL)
                        fail_msg("'%s' was accepted", bad[i]);
}

/* As uWSGI: an address without a ':' is a unix socket in the working directory. */
static void test_no_colon_is_a_unix_socket(void **state) {
        struct sockaddr_storage ss;
        socklen_t len = 0;

        (void) state;
        assert_int_equal(sockaddr_parse("app.sock", &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_UNIX);
}

static void test_unix_path_too_long_is_refused(void **state) {
        struct sockaddr_un un;
        char path[sizeof(un.sun_path) + 1];
        struct sockaddr_storage ss;
        socklen_t len = 0;

        (void) state;
        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(un.sun_path)] = 0; /* 108 characters: no room for the NUL */
        assert_int_equal(sockaddr_parse(path, &ss, &len), -EINVAL);
        path[sizeof(un.sun_path) - 1] = 0; /* 107 fit */
        assert_int_equal(sockaddr_parse(path, &ss, &len), 0);
}

static void test_host_name_is_resolved(void **state) {
        struct sockaddr_storage ss;
        socklen_t len = 0;

        (void) state;
        assert_int_equal(sockaddr_parse("localhost:8080", &ss, &len), 0);
        if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) &ss;
                assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
                assert_int_equal(ntohs(in->sin_port), 8080);
                assert_int_equal(len, sizeof(*in));
        } else {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &ss;
                assert_int_equal(ss.ss_family, AF_INET6);
                assert_memory_equal(&in6->sin6_addr, &in6addr_loopback, sizeof(struct in6_addr));
                assert_int_equal(ntohs(in6->sin6_port), 8080);
                assert_int_equal(len, sizeof(*in6));
        }
}

/* ---- listeners_open / listeners_close ---- */

static void test_unix_and_tcp_listeners_are_bound(void **state) {
        Fixture *f = *state;

        configure(f, "--http-socket", f->path, "--socket", "127.0.0.1:0", "--chmod-socket", "660",
                  NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        assert_int_equal(f->set.n, 2);

        Listener *u = &f->set.items[0];
        assert_int_equal(u->proto, SOCKET_HTTP);
        assert_string_equal(u->address, f->path);
        assert_string_equal(u->unix_path, f->path);
        assert_false(u->tcp);
        assert_false(u->inherited);
        assert_listening(u->fd);
        assert_int_equal(sockopt(u->fd, SOL_SOCKET, SO_DOMAIN), AF_UNIX);
        assert_is_socket_file(f->path, 0660);
        assert_int_equal(connect_unix(f->path), 0);

        Listener *t = &f->set.items[1];
        assert_int_equal(t->proto, SOCKET_UWSGI);
        assert_string_equal(t->address, "127.0.0.1:0");
        assert_null(t->unix_path);
        assert_true(t->tcp);
        assert_false(t->inherited);
        assert_listening(t->fd);
        assert_int_equal(sockopt(t->fd, IPPROTO_TCP, TCP_NODELAY), 1);
        struct sockaddr_in in;
        socklen_t len = sizeof(in);
        assert_int_equal(getsockname(t->fd, (struct sockaddr *) &in, &len), 0);
        assert_int_equal(in.sin_family, AF_INET);
        assert_int_equal(ntohl(in.sin_addr.s_addr), INADDR_LOOPBACK);
        assert_true(ntohs(in.sin_port) > 0);
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(c >= 0);
        assert_int_equal(connect(c, (struct sockaddr *) &in, len), 0);
        close(c);

        listeners_close(&f->set, true);
        assert_int_equal(f->set.n, 0);
        assert_null(f->set.items);
        assert_int_equal(access(f->path, F_OK), -1);
        assert_int_equal(errno, ENOENT);
}

static void test_close_without_unlink_keeps_the_socket_file(void **state) {
        Fixture *f = *state;

        configure(f, "--http-socket", f->path, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        listeners_close(&f->set, false);
        assert_is_socket_file(f->path, 0);
        /* The socket is closed: nobody listens on the file any more. */
        assert_int_equal(connect_unix(f->path), -ECONNREFUSED);
}

static void test_stale_socket_file_is_replaced(void **state) {
        Fixture *f = *state;

        make_stale_socket(f->path);
        assert_int_equal(connect_unix(f->path), -ECONNREFUSED);
        configure(f, "--socket", f->path, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        assert_listening(f->set.items[0].fd);
        assert_int_equal(connect_unix(f->path), 0);
}

static void test_regular_file_in_the_way_is_not_removed_on_failure(void **state) {
        Fixture *f = *state;
        struct stat st;

        FILE *file = fopen(f->path, "we");
        assert_non_null(file);
        fputs("precious\n", file);
        assert_int_equal(fclose(file), 0);

        configure(f, "--http-socket", f->path, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), -EADDRINUSE);
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        listeners_close(&f->set, false);
        assert_int_equal(lstat(f->path, &st), 0);
}

static void test_failed_open_then_close_keeps_a_regular_file(void **state) {
        Fixture *f = *state;
        struct stat st;

        /* Regression (was a bug): listener_bind() records l->unix_path before bind() succeeds, so when bind fails
         * on a regular file at the socket path (EADDRINUSE), master.c's cleanup
         * listeners_close(&m.listeners, true) unlinks that file, although listener_bind()
         * takes care to remove "only sockets, never a regular file someone pointed us at". */
        FILE *file = fopen(f->path, "we");
        assert_non_null(file);
        fputs("precious\n", file);
        assert_int_equal(fclose(file), 0);

        configure(f, "--http-socket", f->path, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), -EADDRINUSE);
        listeners_close(&f->set, true);
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
}

static void test_abstract_listener_has_no_file(void **state) {
        Fixture *f = *state;
        char address[64];

        (void) snprintf(address, sizeof(address), "@test-socket-%d", (int) getpid());
        configure(f, "--http-socket", address, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        assert_listening(f->set.items[0].fd);
        assert_null(f->set.items[0].unix_path);
        assert_false(f->set.items[0].tcp);
}

static void test_chown_socket_to_ourselves_and_to_nobody_known(void **state) {
        Fixture *f = *state;
        char owner[64];
        struct stat st;

        (void) snprintf(owner, sizeof(owner), "%u:%u", (unsigned) getuid(), (unsigned) getgid());
        configure(f, "--http-socket", f->path, "--chown-socket", owner, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        assert_int_equal(lstat(f->path, &st), 0);
        assert_int_equal(st.st_uid, getuid());
        assert_int_equal(st.st_gid, getgid());
        listeners_close(&f->set, true);

        configure(f, "--http-socket", f->path, "--chown-socket", "no-such-user-here", NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), -ENOENT);
        listeners_close(&f->set, true);

        (void) snprintf(owner, sizeof(owner), "%u:no-such-group-here", (unsigned) getuid());
        configure(f, "--http-socket", f->path, "--chown-socket", owner, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), -ENOENT);
}

static void test_bad_address_fails_open(void **state) {
        Fixture *f = *state;

        /* Well-formed (the config accepts it), but nothing can bind there. */
        configure(f, "--http-socket", "127.0.0.1:0", "--http-socket", "/no-such-dir-here/a.sock",
                  NULL);
        assert_true(listeners_open(&f->set, &f->c) < 0);
        assert_int_equal(f->set.n, 2);
}

static void test_ipv6_listener_is_v6_only(void **state) {
        Fixture *f = *state;

        int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in6 lo = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        bool ok = probe >= 0 && bind(probe, (struct sockaddr *) &lo, sizeof(lo)) == 0;
        safe_close(probe);
        if (!ok)
                skip(); /* no IPv6 loopback here */

        configure(f, "--http-socket", "[::1]:0", NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        assert_listening(f->set.items[0].fd);
        assert_true(f->set.items[0].tcp);
        assert_int_equal(sockopt(f->set.items[0].fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
}

/* A supervisor's socket at fd 3, as LISTEN_FDS passes it. Skips when fd 3 is taken. */
static int pass_listening_socket(const char *path) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        strcpy(un.sun_path, path);
        assert_int_equal(bind(fd, (struct sockaddr *) &un, sizeof(un)), 0);
        assert_int_equal(listen(fd, 8), 0);
        if (fd != 3) {
                if (fcntl(3, F_GETFD) >= 0) {
                        close(fd);
                        skip();
                }
                assert_int_equal(dup2(fd, 3), 3);
                close(fd);
        }
        char pid[32];
        (void) snprintf(pid, sizeof(pid), "%d", (int) getpid());
        assert_int_equal(setenv("LISTEN_PID", pid, 1), 0);
        assert_int_equal(setenv("LISTEN_FDS", "1", 1), 0);
        return 3;
}

static void test_inherited_socket_is_adopted_and_its_file_kept(void **state) {
        Fixture *f = *state;

        int fd = pass_listening_socket(f->path);
        assert_int_equal(setenv("LISTEN_FDNAMES", f->path, 1), 0);
        configure(f, "--http-socket", f->path, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        assert_int_equal(f->set.items[0].fd, fd);
        assert_true(f->set.items[0].inherited);
        assert_false(f->set.items[0].tcp);
        assert_listening(fd);
        listeners_close(&f->set, true);
        /* Not ours to remove. */
        assert_is_socket_file(f->path, 0);
        assert_int_equal(fcntl(fd, F_GETFD), -1);
}

static void test_inherited_socket_with_another_name_is_not_adopted(void **state) {
        Fixture *f = *state;
        char other[PATH_MAX];

        int fd = pass_listening_socket(f->path);
        assert_int_equal(setenv("LISTEN_FDNAMES", "somebody-else", 1), 0);
        (void) snprintf(other, sizeof(other), "%s/other.sock", f->dir);
        configure(f, "--http-socket", other, NULL);
        assert_int_equal(listeners_open(&f->set, &f->c), 0);
        assert_true(f->set.items[0].fd != fd);
        assert_false(f->set.items[0].inherited);
        assert_is_socket_file(other, 0);
        close(fd);
}

/* socket_listen_as(): the rules a supervisor binds by (the emperor, for its vassals). */
static SocketFileId file_id(const char *path) {
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        return (SocketFileId) { st.st_dev, st.st_ino };
}

static void test_rules_keep_a_listed_socket_file(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *made = NULL;

        make_stale_socket(f->path);
        SocketFileId keep = file_id(f->path);
        SocketRules rules = { .keep = &keep, .n_keep = 1 };
        assert_int_equal(socket_listen_as(f->path, 8, -1, NULL, &rules, &made, NULL), -EADDRINUSE);
        assert_null(made);
        SocketFileId now = file_id(f->path);
        assert_true(now.ino == keep.ino);
}

static void test_rules_refuse_a_forbidden_directory_and_below(void **state) {
        Fixture *f = *state;
        char sub[PATH_MAX], path[PATH_MAX + 16];
        _cleanup_free_ char *made = NULL;

        SocketFileId dir = file_id(f->dir);
        SocketRules rules = { .forbidden_dir = &dir };
        assert_int_equal(socket_listen_as(f->path, 8, -1, NULL, &rules, &made, NULL), -EPERM);
        (void) snprintf(sub, sizeof(sub), "%s/sub", f->dir);
        assert_int_equal(mkdir(sub, 0700), 0);
        (void) snprintf(path, sizeof(path), "%s/x.sock", sub);
        assert_int_equal(socket_listen_as(path, 8, -1, NULL, &rules, &made, NULL), -EPERM);
        assert_int_equal(access(path, F_OK), -1);
}

static void test_rules_mode_is_set_at_bind_and_the_file_removed_only_if_ours(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *made = NULL;
        SocketFileId id;
        struct stat st;

        int fd = socket_listen_as(f->path, 8, 0640, NULL, NULL, &made, &id);
        assert_true(fd >= 0);
        assert_string_equal(made, f->path);
        assert_int_equal(lstat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_true(st.st_ino == id.ino);
        /* Replaced since: not ours to remove. */
        assert_int_equal(unlink(f->path), 0);
        make_stale_socket(f->path);
        assert_int_equal(socket_unlink_as(f->path, &id, NULL), -ESTALE);
        assert_int_equal(access(f->path, F_OK), 0);
        SocketFileId other = file_id(f->path);
        assert_int_equal(socket_unlink_as(f->path, &other, NULL), 0);
        assert_int_equal(access(f->path, F_OK), -1);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_port_alone_means_every_ipv4_address),
                T(test_ipv4_address_and_port),
                T(test_bracketed_ipv6_address_and_port),
                T(test_unix_paths),
                T(test_abstract_unix_name),
                T(test_bad_addresses_are_refused),
                T(test_no_colon_is_a_unix_socket),
                T(test_unix_path_too_long_is_refused),
                T(test_host_name_is_resolved),
                T(test_unix_and_tcp_listeners_are_bound),
                T(test_close_without_unlink_keeps_the_socket_file),
                T(test_stale_socket_file_is_replaced),
                T(test_regular_file_in_the_way_is_not_removed_on_failure),
                T(test_failed_open_then_close_keeps_a_regular_file),
                T(test_abstract_listener_has_no_file),
                T(test_chown_socket_to_ourselves_and_to_nobody_known),
                T(test_bad_address_fails_open),
                T(test_ipv6_listener_is_v6_only),
                T(test_inherited_socket_is_adopted_and_its_file_kept),
                T(test_inherited_socket_with_another_name_is_not_adopted),
                T(test_rules_keep_a_listed_socket_file),
                T(test_rules_refuse_a_forbidden_directory_and_below),
                T(test_rules_mode_is_set_at_bind_and_the_file_removed_only_if_ours),
#undef T
        };

        /* listeners_open() logs every socket; only the failures under test would be worth it,
         * and they are asserted. */
        log_set_max_level(LOG_CRIT);
        return cmocka_run_group_tests_name("socket", tests, NULL, NULL);
}
