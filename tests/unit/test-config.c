/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"
#include "vini.h"

typedef struct Fixture {
        char dir[64];        /* a private temp directory */
        char path[PATH_MAX]; /* the ini written last */
        VassalConfig c;
        char err[8192];      /* what the call wrote to stderr */
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-config-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        vassal_config_init(&f->c);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        vassal_config_done(&f->c);
        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* Writes text to DIR/name and remembers its path in f->path. */
static const char *write_ini(Fixture *f, const char *name, const char *text) {
        (void) snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
        FILE *file = fopen(f->path, "we");
        assert_non_null(file);
        assert_int_equal(fputs(text, file) >= 0, 1);
        assert_int_equal(fclose(file), 0);
        return f->path;
}

/* stderr goes to a file while a call runs, then is read into f->err. cmocka reports failures
 * on stderr too, so nothing is asserted while it is redirected. */
typedef struct Capture {
        int saved;
        int fd;
} Capture;

static Capture capture_begin(Fixture *f) {
        char path[PATH_MAX];
        Capture cap;

        (void) snprintf(path, sizeof(path), "%s/stderr", f->dir);
        fflush(stderr);
        cap.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cap.saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (cap.fd >= 0 && cap.saved >= 0)
                (void) dup2(cap.fd, STDERR_FILENO);
        return cap;
}

static void capture_end(Fixture *f, Capture cap) {
        fflush(stderr);
        if (cap.saved >= 0) {
                (void) dup2(cap.saved, STDERR_FILENO);
                close(cap.saved);
        }
        assert_true(cap.fd >= 0);
        assert_true(cap.saved >= 0);
        ssize_t n = pread(cap.fd, f->err, sizeof(f->err) - 1, 0);
        close(cap.fd);
        assert_true(n >= 0);
        f->err[n] = 0;
}

/* Loads ini (NULL: none) and the options after it (NULL-terminated) into a fresh config,
 * argv[0] being the program as with getopt. Returns vassal_config_load()'s result. */
static int load(Fixture *f, const char *ini, ...) {
        char *argv[32] = { (char *) "vassal" };
        int argc = 1;
        va_list ap;

        va_start(ap, ini);
        for (char *a; (a = va_arg(ap, char *));) {
                assert_true(argc < 31);
                argv[argc++] = a;
        }
        va_end(ap);

        vassal_config_done(&f->c);
        vassal_config_init(&f->c);
        Capture cap = capture_begin(f);
        int r = vassal_config_load(&f->c, ini, argc, argv);
        capture_end(f, cap);
        return r;
}

static int verify(Fixture *f) {
        Capture cap = capture_begin(f);
        int r = vassal_config_verify(&f->c);
        capture_end(f, cap);
        return r;
}

/* Asserts strv is exactly the NULL-terminated list of strings given. */
static void assert_strv(char **strv, ...) {
        va_list ap;
        size_t i = 0;

        assert_non_null(strv);
        va_start(ap, strv);
        for (const char *s; (s = va_arg(ap, const char *)); i++) {
                assert_non_null(strv[i]);
                assert_string_equal(strv[i], s);
        }
        va_end(ap);
        assert_null(strv[i]);
}

/* Asserts stderr got exactly the formatted text (the ini's path is a temp one, so the
 * expectation is built with it). */
_printf_(2, 3) static void assert_err_at(Fixture *f, const char *fmt, ...) {
        char expected[8192];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(expected, sizeof(expected), fmt, ap);
        va_end(ap);
        assert_string_equal(f->err, expected);
}

static void test_defaults_follow_uwsgi(void **state) {
        Fixture *f = *state;
        VassalConfig *c = &f->c;

        assert_null(c->ini_path);
        assert_null(c->name);
        assert_int_equal(c->processes, 1);
        assert_int_equal(c->threads, 1);
        assert_int_equal(c->thread_stacksize, 0);
        assert_false(c->lazy_apps);
        assert_int_equal(c->reload_mercy, 60);
        assert_int_equal(c->worker_reload_mercy, 60);
        assert_int_equal(c->max_requests, 0);
        assert_int_equal(c->gevent, 0);
        assert_false(c->gevent_monkey_patch);
        assert_false(c->gevent_early_monkey_patch);
        assert_null(c->http_sockets);
        assert_null(c->uwsgi_sockets);
        assert_int_equal(c->chmod_socket, -1);
        assert_null(c->chown_socket);
        assert_int_equal(c->listen, 0);
        assert_int_equal(c->buffer_size, 8192);
        assert_int_equal(c->post_buffering, 0);
        assert_int_equal(c->limit_post, 0);
        assert_int_equal(c->socket_timeout, 4);
        assert_int_equal(c->keepalive_timeout, 30);
        assert_null(c->module);
        assert_null(c->wsgi_file);
        assert_null(c->callable);
        assert_null(c->chdir);
        assert_null(c->pythonpath);
        assert_null(c->virtualenv);
        assert_null(c->env);
        assert_false(c->disable_logging);
        assert_null(c->logto);
}

static void test_command_line_only_config_is_named_vassal(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, NULL, "--http-socket", ":8080", "--module", "app", NULL), 0);
        assert_string_equal(f->err, "");
        assert_null(f->c.ini_path);
        assert_string_equal(f->c.name, "vassal");
        assert_strv(f->c.http_sockets, ":8080", NULL);
        assert_string_equal(f->c.module, "app");
        /* Untouched keys keep their defaults. */
        assert_int_equal(f->c.processes, 1);
        assert_int_equal(f->c.buffer_size, 8192);
        assert_int_equal(verify(f), 0);
}

static void test_ini_values_are_loaded(void **state) {
        Fixture *f = *state;
        VassalConfig *c = &f->c;
        char expected[PATH_MAX];

        write_ini(f, "site.ini",
                  "[uwsgi]\n"
                  "processes = 4\n"
                  "threads = 8\n"
                  "lazy-apps = true\n"
                  "reload-mercy = 10\n"
                  "worker-reload-mercy = 5\n"
                  "max-requests = 1000\n"
                  "http-socket = 127.0.0.1:8080\n"
                  "socket = /run/site.sock\n"
                  "chmod-socket = 660\n"
                  "chown-socket = www-data:www-data\n"
                  "listen = 128\n"
                  "buffer-size = 32k\n"
                  "post-buffering = 64k\n"
                  "limit-post = 10M\n"
                  "socket-timeout = 30\n"
                  "keepalive-timeout = 15\n"
                  "module = site.wsgi:application\n"
                  "callable = app\n"
                  "chdir = %d\n"
                  "pythonpath = %dlib\n"
                  "virtualenv = /srv/venv\n"
                  "env = A=1\n"
                  "disable-logging = yes\n"
                  "logto = /var/log/site.log\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_string_equal(f->err, "");
        assert_string_equal(c->ini_path, f->path);
        assert_string_equal(c->name, "site");
        assert_int_equal(c->processes, 4);
        assert_int_equal(c->threads, 8);
        assert_true(c->lazy_apps);
        assert_int_equal(c->reload_mercy, 10);
        assert_int_equal(c->worker_reload_mercy, 5);
        assert_int_equal(c->max_requests, 1000);
        assert_strv(c->http_sockets, "127.0.0.1:8080", NULL);
        assert_strv(c->uwsgi_sockets, "/run/site.sock", NULL);
        assert_int_equal(c->chmod_socket, 0660);
        assert_string_equal(c->chown_socket, "www-data:www-data");
        assert_int_equal(c->listen, 128);
        assert_int_equal(c->buffer_size, 32768);
        assert_int_equal(c->post_buffering, 65536);
        assert_int_equal(c->limit_post, 10 << 20);
        assert_int_equal(c->socket_timeout, 30);
        assert_int_equal(c->keepalive_timeout, 15);
        assert_string_equal(c->module, "site.wsgi:application");
        assert_string_equal(c->callable, "app");
        (void) snprintf(expected, sizeof(expected), "%s/", f->dir);
        assert_string_equal(c->chdir, expected);
        (void) snprintf(expected, sizeof(expected), "%s/lib", f->dir);
        assert_strv(c->pythonpath, expected, NULL);
        assert_string_equal(c->virtualenv, "/srv/venv");
        assert_strv(c->env, "A=1", NULL);
        assert_true(c->disable_logging);
        assert_string_equal(c->logto, "/var/log/site.log");
        assert_int_equal(verify(f), 0);
        assert_string_equal(f->err, "");
}

static void test_vassal_section_and_named_section_are_read(void **state) {
        Fixture *f = *state;
        char spec[PATH_MAX + 8];

        write_ini(f, "app.ini", "[vassal]\nprocesses = 3\n[other]\nprocesses = 7\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(f->c.processes, 3);
        assert_string_equal(f->c.name, "app");

        (void) snprintf(spec, sizeof(spec), "%s:other", f->path);
        assert_int_equal(load(f, spec, NULL), 0);
        assert_int_equal(f->c.processes, 7);
        assert_string_equal(f->c.ini_path, f->path);
}

static void test_aliases_set_the_same_field(void **state) {
        static const struct {
                const char *key;
                const char *value;
                size_t offset;
        } cases[] = {
                { "workers", "6", offsetof(VassalConfig, processes) },
                { "socket-timeout", "9", offsetof(VassalConfig, socket_timeout) },
                { "http-timeout", "9", offsetof(VassalConfig, socket_timeout) },
        };
        Fixture *f = *state;
        char text[256];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                (void) snprintf(text, sizeof(text), "[uwsgi]\n%s = %s\n", cases[i].key,
                                cases[i].value);
                write_ini(f, "alias.ini", text);
                assert_int_equal(load(f, f->path, NULL), 0);
                assert_string_equal(f->err, "");
                assert_int_equal(*(int64_t *) ((char *) &f->c + cases[i].offset),
                                 atoi(cases[i].value));
        }

        static const char *const venv[] = { "virtualenv", "venv", "home", "pyhome" };
        for (size_t i = 0; i < ELEMENTSOF(venv); i++) {
                (void) snprintf(text, sizeof(text), "[uwsgi]\n%s = /srv/env%zu\n", venv[i], i);
                write_ini(f, "alias.ini", text);
                assert_int_equal(load(f, f->path, NULL), 0);
                assert_string_equal(f->err, "");
                (void) snprintf(text, sizeof(text), "/srv/env%zu", i);
                assert_string_equal(f->c.virtualenv, text);
        }

        write_ini(f, "alias.ini", "[uwsgi]\nhttp = :1\nwsgi = a.b\nfile = x.py\npp = /p1\n"
                                  "python-path = /p2\nuwsgi-socket = :2\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_strv(f->c.http_sockets, ":1", NULL);
        assert_strv(f->c.uwsgi_sockets, ":2", NULL);
        assert_string_equal(f->c.module, "a.b");
        assert_string_equal(f->c.wsgi_file, "x.py");
        assert_strv(f->c.pythonpath, "/p1", "/p2", NULL);

        assert_int_equal(load(f, NULL, "--workers", "3", "--http", ":5", "--venv", "/v", NULL), 0);
        assert_int_equal(f->c.processes, 3);
        assert_strv(f->c.http_sockets, ":5", NULL);
        assert_string_equal(f->c.virtualenv, "/v");
}

static void test_repeated_socket_keys_accumulate(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\n"
                                "http-socket = :8080\n"
                                "socket = /run/a.sock\n"
                                "http = 127.0.0.1:8081\n"
                                "uwsgi-socket = @abstract\n"
                                "http11-socket = [::1]:8082\n"
                                "socket = :3031\n"
                                "env = A=1\n"
                                "env = B=2\n");
        assert_int_equal(load(f, f->path, "--http-socket", ":9090", "--socket=:3032", NULL), 0);
        assert_strv(f->c.http_sockets, ":8080", "127.0.0.1:8081", "[::1]:8082", ":9090", NULL);
        assert_strv(f->c.uwsgi_sockets, "/run/a.sock", "@abstract", ":3031", ":3032", NULL);
        assert_strv(f->c.env, "A=1", "B=2", NULL);
}

static void test_thread_stacksize_bare_number_is_kib(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nthread-stacksize = 512\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(f->c.thread_stacksize, 512 * 1024);

        write_ini(f, "app.ini", "[uwsgi]\nthreads-stacksize = 1M\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(f->c.thread_stacksize, 1 << 20);

        assert_int_equal(load(f, NULL, "--thread-stack-size", "256k", NULL), 0);
        assert_int_equal(f->c.thread_stacksize, 256 * 1024);

        assert_int_equal(load(f, NULL, "--threads-stack-size", "8192", NULL), 0);
        assert_int_equal(f->c.thread_stacksize, 8192 * 1024);
}

static void test_thread_stacksize_with_a_suffix_is_not_scaled_again(void **state) {
        Fixture *f = *state;

        /* Regression (was a bug): vassal_config_load() multiplies every thread-stacksize under 16384 by 1024,
         * after CONF_SIZE already applied the suffix: "8k" (8192 bytes) becomes 8 MiB instead
         * of being refused by vassal_config_verify() as under 64k. Only a bare number is KiB. */
        write_ini(f, "app.ini", "[uwsgi]\nthread-stacksize = 8k\nhttp-socket = :1\nmodule = m\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(f->c.thread_stacksize, 8192);
        assert_int_equal(verify(f), -EINVAL);
}

static void test_thread_stacksize_large_bare_number_is_kib(void **state) {
        Fixture *f = *state;

        /* Regression (was a bug): a bare number of 16384 or more is taken as bytes, not KiB: uWSGI's
         * "thread-stacksize = 32768" (32 MiB) becomes 32768 bytes and the vassal refuses to
         * start ("thread-stacksize: must be at least 64k"). */
        write_ini(f, "app.ini",
                  "[uwsgi]\nthread-stacksize = 32768\nhttp-socket = :1\nmodule = m\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(f->c.thread_stacksize, 32768 * 1024);
        assert_int_equal(verify(f), 0);
}

static void test_command_line_overrides_the_ini(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\n"
                                "processes = 2\n"
                                "threads = 3\n"
                                "http-socket = :8080\n"
                                "module = first\n"
                                "lazy-apps = true\n");
        assert_int_equal(load(f, f->path, "--processes", "4", "--master", "--threads=8",
                              "--module", "second", "--lazy-apps", "false", "--enable-threads",
                              NULL),
                         0);
        assert_string_equal(f->err, "");
        assert_int_equal(f->c.processes, 4);
        assert_int_equal(f->c.threads, 8);
        assert_string_equal(f->c.module, "second");
        assert_false(f->c.lazy_apps);
        assert_true(f->c.compat_flag);
        assert_strv(f->c.http_sockets, ":8080", NULL);
        assert_string_equal(f->c.name, "app");
        assert_string_equal(f->c.ini_path, f->path);
}

static void test_bad_value_is_reported_with_file_and_line(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nprocesses = 0\n");
        assert_int_equal(load(f, f->path, NULL), -EINVAL);
        assert_err_at(f, "%s:2: processes: expected a positive integer\n", f->path);
        /* The bad value did not land. */
        assert_int_equal(f->c.processes, 1);
}

static void test_gevent_keys_are_loaded(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\ngevent = 3000\ngevent-monkey-patch = true\n"
                                "gevent-early-monkey-patch = 1\nprocesses = 2\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(f->c.gevent, 3000);
        assert_true(f->c.gevent_monkey_patch);
        assert_true(f->c.gevent_early_monkey_patch);
        assert_int_equal(f->c.processes, 2);
        assert_string_equal(f->err, "");
}

static void test_gevent_with_threads_is_refused_at_the_gevent_line(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nthreads = 8\n\ngevent = 100\n");
        assert_int_equal(load(f, f->path, NULL), -EINVAL);
        assert_err_at(f, "%s:4: gevent: not supported together with 'threads = 8': one gevent "
                      "worker serves its requests on one thread; use 'processes' for more "
                      "workers\n", f->path);
        assert_non_null(vassal_config_error());
}

static void test_gevent_from_the_command_line_cites_it(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, NULL, "--gevent", "10", "--threads", "2", NULL), -EINVAL);
        assert_err_at(f, "command line: gevent: not supported together with 'threads = 2': one "
                      "gevent worker serves its requests on one thread; use 'processes' for "
                      "more workers\n");
}

static void test_monkey_patch_without_gevent_is_refused(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\ngevent-early-monkey-patch = true\n");
        assert_int_equal(load(f, f->path, NULL), -EINVAL);
        assert_err_at(f, "%s:2: gevent-early-monkey-patch: needs 'gevent = N' (greenlets per "
                      "worker): without it nothing would use the patches\n", f->path);
        /* Off is fine without gevent. */
        write_ini(f, "off.ini", "[uwsgi]\ngevent-monkey-patch = false\ngevent = 0\n");
        assert_int_equal(load(f, f->path, NULL), 0);
}

static void test_gevent_with_exec_is_refused(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nexec = /bin/true\ngevent = 5\n");
        assert_int_equal(load(f, f->path, NULL), -EINVAL);
        assert_err_at(f, "%s:3: gevent: not supported with 'exec': there is no WSGI app to "
                      "serve in greenlets\n", f->path);
}

static void test_every_bad_value_is_reported(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\n"
                                "processes = many\n"
                                "threads = 4\n"
                                "listen = 70000\n"
                                "buffer-size = 10\n"
                                "chmod-socket = 999\n"
                                "lazy-apps = maybe\n"
                                "limit-post = 5X\n");
        assert_int_equal(load(f, f->path, NULL), -EINVAL);
        assert_err_at(f,
                      "%1$s:2: processes: expected a positive integer\n"
                      "%1$s:4: listen: expected an integer between 1 and 65535\n"
                      "%1$s:5: buffer-size: expected a size between 1k and 1M\n"
                      "%1$s:6: chmod-socket: expected an octal mode such as 660\n"
                      "%1$s:7: lazy-apps: expected a boolean (true/false, yes/no, on/off, 1/0)\n"
                      "%1$s:8: limit-post: expected a size such as 65536, 64k or 50M\n",
                      f->path);
        assert_int_equal(f->c.threads, 4);
}

static void test_bad_command_line_value_cites_the_command_line(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, NULL, "--processes", "zero", NULL), -EINVAL);
        assert_string_equal(f->err, "command line: processes: expected a positive integer\n");

        assert_int_equal(load(f, NULL, "--threads", NULL), -EINVAL);
        assert_string_equal(f->err, "command line: option '--threads' requires a value\n");

        assert_int_equal(load(f, NULL, "--http-socket", ":1", "extra", NULL), -EINVAL);
        assert_string_equal(f->err, "command line: unexpected argument 'extra'\n");
}

static void test_missing_ini_is_an_error(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX];

        (void) snprintf(path, sizeof(path), "%s/missing.ini", f->dir);
        assert_int_equal(load(f, path, NULL), -ENOENT);
        assert_non_null(strstr(f->err, "missing.ini"));
        assert_null(f->c.name);
}

static void test_unknown_keys_only_warn(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\n"
                                "proceses = 2\n"
                                "master = true\n"
                                "vacuum =\n"
                                "plugins = python3\n"
                                "die-on-term = 1\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_err_at(f,
                      "%1$s:2: warning: unknown key 'proceses', ignored; did you mean "
                      "'processes'?\n",
                      f->path);
        assert_int_equal(f->c.processes, 1);
        assert_true(f->c.compat_flag);
}

static void test_compat_flag_with_a_bad_value_is_an_error(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nmaster = please\n");
        assert_int_equal(load(f, f->path, NULL), -EINVAL);
        assert_err_at(f, "%s:2: master: expected a boolean (true/false, yes/no, on/off, 1/0)\n",
                      f->path);
}

static void test_bare_chmod_socket_means_666(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nchmod-socket =\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(f->c.chmod_socket, 0666);

        assert_int_equal(load(f, NULL, "--chmod-socket", "600", NULL), 0);
        assert_int_equal(f->c.chmod_socket, 0600);
}

static void test_verify_accepts_module_or_wsgi_file_with_a_socket(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, NULL, "--socket", ":3031", "--wsgi-file", "app.py", NULL), 0);
        assert_int_equal(verify(f), 0);
        assert_string_equal(f->err, "");

        assert_int_equal(load(f, NULL, "--http", ":80", "--module", "app", "--thread-stacksize",
                              "64k", NULL),
                         0);
        assert_int_equal(verify(f), 0);
        assert_string_equal(f->err, "");
}

static void test_verify_requires_an_app(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nhttp-socket = :8080\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(verify(f), -EINVAL);
        assert_err_at(f, "%s: no app to serve: set 'module', 'wsgi-file' or 'mount'\n", f->path);
}

static void test_verify_requires_a_socket(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, NULL, "--module", "app", NULL), 0);
        assert_int_equal(verify(f), -EINVAL);
        assert_string_equal(f->err, "command line: no socket to serve on: set 'http-socket' or "
                                    "'socket'\n");
}

static void test_verify_refuses_module_and_wsgi_file_together(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nsocket = :3031\nmodule = app\nwsgi-file = app.py\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(verify(f), -EINVAL);
        assert_err_at(f, "%s: 'module' and 'wsgi-file' both set: choose one\n", f->path);
}

static void test_verify_reports_every_problem(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, NULL, "--thread-stacksize", "32k", NULL), 0);
        assert_int_equal(f->c.thread_stacksize, 32768);
        assert_int_equal(verify(f), -EINVAL);
        assert_string_equal(f->err,
                            "command line: no app to serve: set 'module', 'wsgi-file' or 'mount'\n"
                            "command line: no socket to serve on: set 'http-socket' or 'socket'\n"
                            "command line: thread-stacksize: must be at least 64k\n");
}

static void test_config_done_clears_everything(void **state) {
        Fixture *f = *state;

        write_ini(f, "app.ini", "[uwsgi]\nhttp = :1\nmodule = m\nenv = A=1\nlogto = /l\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        vassal_config_done(&f->c);
        assert_null(f->c.http_sockets);
        assert_null(f->c.module);
        assert_null(f->c.env);
        assert_null(f->c.logto);
        assert_null(f->c.ini_path);
        assert_null(f->c.name);
        assert_int_equal(f->c.processes, 0);
        /* Safe to finish twice (teardown does it again). */
        vassal_config_done(&f->c);
}

/* Every key the emperor and emperorctl read is the vassal's own row: same name, type, bounds
 * and help (lib/vkeys.h); a copy that drifted would bind sockets the vassal would not. */
static void test_shared_rows_are_the_vassals_rows(void **state) {
        size_t n_vini, n_vassal;
        const ConfOption *vini = vini_table(&n_vini), *vassal = vassal_config_table(&n_vassal);
        (void) state;

        assert_true(n_vini >= 11);
        for (size_t i = 0; i < n_vini; i++) {
                const ConfOption *o = conf_find(vassal, n_vassal, vini[i].name);
                assert_non_null(o);
                assert_int_equal(o->type, vini[i].type);
                assert_int_equal(o->min, vini[i].min);
                assert_int_equal(o->max, vini[i].max);
                assert_string_equal(o->help, vini[i].help);
                /* Aliases stay aliases: a row of the same field here has one there too. */
                for (size_t j = 0; j < n_vini; j++)
                        if (vini[j].offset == vini[i].offset)
                                assert_int_equal(conf_find(vassal, n_vassal, vini[j].name)->offset,
                                                 o->offset);
        }
}

/* One ini, read by the vassal and by the emperor's reader: the same sockets in the same
 * order, the same owner, backlog, credentials, mercy and log, with aliases, %(key),
 * $(VAR), [vassal] and defaults applied alike. */
static void test_emperor_reads_the_ini_as_the_vassal_does(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *error = NULL;
        VassalIni v;
        const char *socks[8];

        setenv("TEST_CONFIG_PORT", "9002", 1);
        write_ini(f, "site.ini",
                  "[uwsgi]\nbase = /srv\nhttp = 127.0.0.1:$(TEST_CONFIG_PORT)\n"
                  "socket = %(base)/%n.sock\nprocesses = 2\n"
                  "[vassal]\nuwsgi-socket = :3031\nhttp11-socket = :9003\nchmod-socket =\n"
                  "chown-socket = www:www\nlisten = 128\nuid = 1000\ngid = www\n"
                  "reload-mercy = 7\nlogto = %(base)/log/%n.log\nlog-maxsize = 1M\n"
                  "log-backupname = %dold.log\nchdir = /srv/app\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_int_equal(vini_load(&v, f->path, &error), 0);

        assert_int_equal(vini_sockets(&v, socks, ELEMENTSOF(socks)), 4);
        assert_strv(f->c.http_sockets, socks[0], socks[1], NULL);
        assert_strv(f->c.uwsgi_sockets, socks[2], socks[3], NULL);
        assert_string_equal(socks[0], "127.0.0.1:9002");
        assert_string_equal(socks[2], "/srv/site.sock");
        assert_int_equal(v.chmod_socket, f->c.chmod_socket);
        assert_int_equal(v.chmod_socket, 0666);
        assert_string_equal(v.chown_socket, f->c.chown_socket);
        assert_int_equal(v.listen, f->c.listen);
        assert_string_equal(v.uid, f->c.uid);
        assert_string_equal(v.gid, f->c.gid);
        assert_int_equal(v.reload_mercy, f->c.reload_mercy);
        assert_int_equal(v.worker_reload_mercy, f->c.worker_reload_mercy);
        assert_string_equal(v.logto, f->c.logto);
        assert_string_equal(v.logto, "/srv/log/site.log");
        assert_int_equal(v.log_maxsize, f->c.log_maxsize);
        assert_string_equal(v.log_backupname, f->c.log_backupname);
        assert_string_equal(v.chdir, f->c.chdir);
        vini_done(&v);

        /* The defaults too. */
        write_ini(f, "empty.ini", "[uwsgi]\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        free(error);
        error = NULL;
        assert_int_equal(vini_load(&v, f->path, &error), 0);
        assert_int_equal(v.chmod_socket, f->c.chmod_socket);
        assert_int_equal(v.listen, f->c.listen);
        assert_int_equal(v.reload_mercy, f->c.reload_mercy);
        assert_int_equal(v.reload_mercy, 60);
        assert_int_equal(v.worker_reload_mercy, f->c.worker_reload_mercy);
        assert_null(v.uid);
        assert_null(v.logto);
        vini_done(&v);
}

/* The log's absolute path, as the master will open it after main.c's chdir. */
static void test_log_path_is_resolved_after_chdir(void **state) {
        Fixture *f = *state;
        char cwd[PATH_MAX], want[PATH_MAX + 64];

        assert_non_null(getcwd(cwd, sizeof(cwd)));
        write_ini(f, "a.ini", "[uwsgi]\nchdir = sub/dir\nlogto = logs/a.log\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        (void) snprintf(want, sizeof(want), "%s/sub/dir/logs/a.log", cwd);
        assert_string_equal(f->c.log_path, want);

        write_ini(f, "b.ini", "[uwsgi]\nchdir = /srv\ndaemonize = b.log\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_string_equal(f->c.log_path, "/srv/b.log");

        /* logto wins over daemonize; an absolute one ignores chdir. */
        write_ini(f, "c.ini", "[uwsgi]\nchdir = /srv\ndaemonize = d.log\nlogto = /var/log/c\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_string_equal(f->c.log_path, "/var/log/c");

        assert_int_equal(load(f, NULL, "--logto", "x.log", NULL), 0);
        (void) snprintf(want, sizeof(want), "%s/x.log", cwd);
        assert_string_equal(f->c.log_path, want);

        write_ini(f, "d.ini", "[uwsgi]\nchdir = /srv\n");
        assert_int_equal(load(f, f->path, NULL), 0);
        assert_null(f->c.log_path);
}

static void test_unknown_user_or_group_is_named(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, NULL, "--http-socket", ":1", "--module", "m", "--uid",
                              "no-such-user-here", NULL), 0);
        assert_int_equal(verify(f), -EINVAL);
        assert_string_equal(f->err, "command line: uid = no-such-user-here: no such user\n");
        assert_int_equal(load(f, NULL, "--http-socket", ":1", "--module", "m", "--uid", "0",
                              "--gid", "no-such-group-here", NULL), 0);
        assert_int_equal(verify(f), -EINVAL);
        assert_string_equal(f->err, "command line: gid = no-such-group-here: no such group\n");
        assert_int_equal(load(f, NULL, "--http-socket", ":1", "--module", "m", "--uid", "root",
                              "--gid", "0", NULL), 0);
        assert_int_equal(verify(f), 0);
}

/* The man page's uWSGI differences name keys that exist, and every key has a description
 * (--help, emperor-ini(5)). */
static void test_differences_and_descriptions_are_complete(void **state) {
        size_t n, nd;
        const ConfOption *t = vassal_config_table(&n);
        const VassalDifference *d = vassal_config_differences(&nd);

        (void) state;
        for (size_t i = 0; i < nd; i++) {
                const ConfOption *o = conf_find(t, n, d[i].key);
                if (!o)
                        fail_msg("difference for '%s', which is no key", d[i].key);
        }
        for (size_t i = 0; i < n; i++)
                if (t[i].type != CONF_IGNORED && (!t[i].help || !t[i].help[0]))
                        fail_msg("'%s' has no description", t[i].name);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_differences_and_descriptions_are_complete),
                T(test_defaults_follow_uwsgi),
                T(test_command_line_only_config_is_named_vassal),
                T(test_ini_values_are_loaded),
                T(test_vassal_section_and_named_section_are_read),
                T(test_aliases_set_the_same_field),
                T(test_repeated_socket_keys_accumulate),
                T(test_thread_stacksize_bare_number_is_kib),
                T(test_thread_stacksize_with_a_suffix_is_not_scaled_again),
                T(test_thread_stacksize_large_bare_number_is_kib),
                T(test_command_line_overrides_the_ini),
                T(test_bad_value_is_reported_with_file_and_line),
                T(test_every_bad_value_is_reported),
                T(test_gevent_keys_are_loaded),
                T(test_gevent_with_threads_is_refused_at_the_gevent_line),
                T(test_gevent_from_the_command_line_cites_it),
                T(test_monkey_patch_without_gevent_is_refused),
                T(test_gevent_with_exec_is_refused),
                T(test_bad_command_line_value_cites_the_command_line),
                T(test_missing_ini_is_an_error),
                T(test_unknown_keys_only_warn),
                T(test_compat_flag_with_a_bad_value_is_an_error),
                T(test_bare_chmod_socket_means_666),
                T(test_verify_accepts_module_or_wsgi_file_with_a_socket),
                T(test_verify_requires_an_app),
                T(test_verify_requires_a_socket),
                T(test_verify_refuses_module_and_wsgi_file_together),
                T(test_verify_reports_every_problem),
                T(test_config_done_clears_everything),
                T(test_shared_rows_are_the_vassals_rows),
                T(test_emperor_reads_the_ini_as_the_vassal_does),
                T(test_log_path_is_resolved_after_chdir),
                T(test_unknown_user_or_group_is_named),
#undef T
        };

        return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
