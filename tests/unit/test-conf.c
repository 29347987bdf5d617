/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "vkeys.h"

/* A small module config, the way a real module describes its keys. */
typedef struct TestConfig {
        bool master;
        bool enable_threads;
        int64_t processes;
        int64_t nice;
        int64_t offset;
        uint64_t buffer_size;
        uint64_t post_buffering;
        char *chdir;
        char **env;
        int chmod_socket;
        int uid;
        int gid;
} TestConfig;

/* "user:group" as two numbers, to exercise CONF_CUSTOM. */
static int parse_owner(const ConfOption *opt, const char *value, void *field,
                       const char **ret_expected) {
        TestConfig *c = (TestConfig *) ((char *) field - opt->offset);
        unsigned u, g;
        int end = 0;

        if (sscanf(value, "%u:%u%n", &u, &g, &end) != 2 || value[end]) {
                *ret_expected = "a uid:gid pair";
                return -EINVAL;
        }
        c->uid = (int) u;
        c->gid = (int) g;
        return 0;
}

/* Designated initializers: positional ones trip -Wmissing-field-initializers. */
#define OPT(n, t, field, ...) { .name = (n), .type = (t), .offset = offsetof(TestConfig, field), __VA_ARGS__ }
static const ConfOption test_options[] = {
        OPT("master", CONF_BOOL, master),
        OPT("enable-threads", CONF_BOOL, enable_threads),
        OPT("processes", CONF_INT, processes, .min = 1, .max = INT64_MAX),
        OPT("workers", CONF_INT, processes, .min = 1, .max = 1024),
        OPT("nice", CONF_INT, nice, .min = -20, .max = 19),
        OPT("offset", CONF_INT, offset),
        OPT("buffer-size", CONF_SIZE, buffer_size),
        OPT("post-buffering", CONF_SIZE, post_buffering, .min = 4096, .max = 64 << 20),
        OPT("chdir", CONF_STRING, chdir),
        OPT("env", CONF_STRV, env),
        OPT("chmod-socket", CONF_MODE, chmod_socket),
        OPT("owner", CONF_CUSTOM, uid, .parse = parse_owner),
        { .name = "daemonize", .type = CONF_IGNORED, .help = "the emperor supervises vassals; log to stderr" },
        { .name = "vacuum", .type = CONF_IGNORED },
};
#undef OPT

typedef struct Message {
        IniLevel level;
        char *file;
        unsigned line;
        char *text;
} Message;

typedef struct Fixture {
        Ini *ini;
        TestConfig config;
        Message messages[32];
        size_t n_messages;
} Fixture;

static void on_diag(void *userdata, IniLevel level, const char *file, unsigned line,
                    const char *message) {
        Fixture *f = userdata;

        assert_non_null(file);
        assert_non_null(message);
        assert_true(f->n_messages < ELEMENTSOF(f->messages));
        f->messages[f->n_messages++] = (Message) {
                .level = level,
                .file = strdup(file),
                .line = line,
                .text = strdup(message),
        };
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        f->ini = ini_new();
        assert_non_null(f->ini);
        /* Defaults, set by the owner before conf_apply(). */
        f->config.processes = 1;
        f->config.buffer_size = 4096;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; i < f->n_messages; i++) {
                free(f->messages[i].file);
                free(f->messages[i].text);
        }
        conf_free(test_options, ELEMENTSOF(test_options), &f->config);
        ini_free(f->ini);
        free(f);
        return 0;
}

/* Loads text as app.ini and applies it; returns conf_apply()'s result. */
static int apply(Fixture *f, const char *text) {
        assert_int_equal(ini_load_string(f->ini, "app.ini", text, strlen(text), NULL, on_diag, f), 0);
        return conf_apply(test_options, ELEMENTSOF(test_options), &f->config, f->ini, on_diag, f);
}

static int parse_argv(Fixture *f, char **positional, size_t max, size_t *n, ...) {
        char *argv[16] = { (char *) "vassal" };
        int argc = 1;
        va_list ap;

        va_start(ap, n);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        assert_true(argc < 16);
        return conf_parse_argv(test_options, ELEMENTSOF(test_options), argc, argv, f->ini,
                               positional, max, n, on_diag, f);
}

static int apply_ini(Fixture *f) {
        return conf_apply(test_options, ELEMENTSOF(test_options), &f->config, f->ini, on_diag, f);
}

static void assert_message(const Fixture *f, size_t i, IniLevel level, const char *file,
                           unsigned line, const char *text) {
        assert_true(i < f->n_messages);
        assert_string_equal(f->messages[i].text, text);
        assert_int_equal(f->messages[i].level, level);
        assert_string_equal(f->messages[i].file, file);
        assert_int_equal(f->messages[i].line, line);
}

/* Applies "[uwsgi]\nKEY = VALUE\n" and expects exactly one error about line 2. */
static void assert_rejected(const char *key, const char *value, const char *text) {
        Fixture *f;
        char ini[256];

        assert_int_equal(setup((void **) &f), 0);
        (void) snprintf(ini, sizeof(ini), "[uwsgi]\n%s = %s\n", key, value);
        assert_int_equal(apply(f, ini), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "app.ini", 2, text);
        assert_int_equal(teardown((void **) &f), 0);
}

static void test_parse_bool_accepts_every_spelling(void **state) {
        static const char *const yes[] = { "1", "true", "TRUE", "Yes", "on", "ON" };
        static const char *const no[] = { "0", "false", "False", "no", "NO", "off" };
        bool b;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                assert_int_equal(conf_parse_bool(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                assert_int_equal(conf_parse_bool(no[i], &b), 0);
                assert_false(b);
        }
        assert_int_equal(conf_parse_bool("", &b), -EINVAL);
        assert_int_equal(conf_parse_bool("maybe", &b), -EINVAL);
        assert_int_equal(conf_parse_bool("truee", &b), -EINVAL);
        assert_int_equal(conf_parse_bool("2", &b), -EINVAL);
}

static void test_parse_int_accepts_decimal_and_rejects_garbage(void **state) {
        int64_t v;

        (void) state;
        assert_int_equal(conf_parse_int("42", &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(conf_parse_int("-7", &v), 0);
        assert_int_equal(v, -7);
        assert_int_equal(conf_parse_int("007", &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(conf_parse_int("9223372036854775807", &v), 0);
        assert_true(v == INT64_MAX);
        assert_int_equal(conf_parse_int("-9223372036854775808", &v), 0);
        assert_true(v == INT64_MIN);
        assert_int_equal(conf_parse_int("9223372036854775808", &v), -EINVAL);
        assert_int_equal(conf_parse_int("-9223372036854775809", &v), -EINVAL);
        assert_int_equal(conf_parse_int("99999999999999999999999", &v), -EINVAL);
        assert_int_equal(conf_parse_int("", &v), -EINVAL);
        assert_int_equal(conf_parse_int("-", &v), -EINVAL);
        assert_int_equal(conf_parse_int("+1", &v), -EINVAL);
        assert_int_equal(conf_parse_int("4 ", &v), -EINVAL);
        assert_int_equal(conf_parse_int("0x10", &v), -EINVAL);
        assert_int_equal(conf_parse_int("four", &v), -EINVAL);
}

static void test_parse_size_accepts_suffixes_and_rejects_garbage(void **state) {
        uint64_t v;

        (void) state;
        assert_int_equal(conf_parse_size("65536", &v), 0);
        assert_true(v == 65536);
        assert_int_equal(conf_parse_size("64k", &v), 0);
        assert_true(v == 65536);
        assert_int_equal(conf_parse_size("64K", &v), 0);
        assert_true(v == 65536);
        assert_int_equal(conf_parse_size("50M", &v), 0);
        assert_true(v == 50ULL << 20);
        assert_int_equal(conf_parse_size("2g", &v), 0);
        assert_true(v == 2ULL << 30);
        assert_int_equal(conf_parse_size("0", &v), 0);
        assert_true(v == 0);
        assert_int_equal(conf_parse_size("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(conf_parse_size("18446744073709551616", &v), -EINVAL);
        assert_int_equal(conf_parse_size("17179869184G", &v), -EINVAL);
        assert_int_equal(conf_parse_size("-1", &v), -EINVAL);
        assert_int_equal(conf_parse_size("", &v), -EINVAL);
        assert_int_equal(conf_parse_size("k", &v), -EINVAL);
        assert_int_equal(conf_parse_size("64kb", &v), -EINVAL);
        assert_int_equal(conf_parse_size("64T", &v), -EINVAL);
        assert_int_equal(conf_parse_size("1.5M", &v), -EINVAL);
}

static void test_every_type_parses_its_values(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\n"
                                  "master = yes\n"
                                  "enable-threads =\n"
                                  "processes = 4\n"
                                  "nice = -5\n"
                                  "offset = -123456789012\n"
                                  "buffer-size = 64k\n"
                                  "post-buffering = 8192\n"
                                  "chdir = /srv/app\n"
                                  "chmod-socket = 660\n"
                                  "owner = 33:34\n"),
                         0);
        assert_int_equal(f->n_messages, 0);
        assert_true(f->config.master);
        assert_true(f->config.enable_threads);
        assert_int_equal(f->config.processes, 4);
        assert_int_equal(f->config.nice, -5);
        assert_true(f->config.offset == -123456789012LL);
        assert_int_equal(f->config.buffer_size, 65536);
        assert_int_equal(f->config.post_buffering, 8192);
        assert_string_equal(f->config.chdir, "/srv/app");
        assert_int_equal(f->config.chmod_socket, 0660);
        assert_int_equal(f->config.uid, 33);
        assert_int_equal(f->config.gid, 34);
}

static void test_empty_mode_means_666(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\nchmod-socket =\n"), 0);
        assert_int_equal(f->config.chmod_socket, 0666);
}

static void test_bad_values_are_reported_with_expectation(void **state) {
        (void) state;
        assert_rejected("processes", "0", "processes: expected a positive integer");
        assert_rejected("processes", "-1", "processes: expected a positive integer");
        assert_rejected("processes", "four", "processes: expected a positive integer");
        assert_rejected("processes", "99999999999999999999", "processes: expected a positive integer");
        assert_rejected("workers", "0", "workers: expected a positive integer");
        assert_rejected("workers", "2000", "workers: expected an integer between 1 and 1024");
        assert_rejected("nice", "20", "nice: expected an integer between -20 and 19");
        assert_rejected("nice", "x", "nice: expected an integer between -20 and 19");
        assert_rejected("offset", "1.5", "offset: expected an integer");
        assert_rejected("master", "maybe", "master: expected a boolean (true/false, yes/no, on/off, 1/0)");
        assert_rejected("buffer-size", "64 k", "buffer-size: expected a size such as 65536, 64k or 50M");
        assert_rejected("buffer-size", "-1", "buffer-size: expected a size such as 65536, 64k or 50M");
        assert_rejected("post-buffering", "1k", "post-buffering: expected a size between 4k and 64M");
        assert_rejected("post-buffering", "1G", "post-buffering: expected a size between 4k and 64M");
        assert_rejected("chmod-socket", "rw-rw----", "chmod-socket: expected an octal mode such as 660");
        assert_rejected("chmod-socket", "668", "chmod-socket: expected an octal mode such as 660");
        assert_rejected("chmod-socket", "17777", "chmod-socket: expected an octal mode such as 660");
        assert_rejected("owner", "www-data", "owner: expected a uid:gid pair");
}

static void test_every_bad_value_is_reported(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\nprocesses = 0\nmaster = true\nbuffer-size = big\n"), -EINVAL);
        assert_int_equal(f->n_messages, 2);
        assert_message(f, 0, INI_ERROR, "app.ini", 2, "processes: expected a positive integer");
        assert_message(f, 1, INI_ERROR, "app.ini", 4, "buffer-size: expected a size such as 65536, 64k or 50M");
        assert_true(f->config.master);
}

static void test_bad_value_keeps_the_default(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\nprocesses = -3\n"), -EINVAL);
        assert_int_equal(f->config.processes, 1);
}

static void test_unknown_key_suggests_the_closest(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\nenable-thread = true\nharakiri = 30\nproceses = 2\n"), 0);
        assert_int_equal(f->n_messages, 3);
        assert_message(f, 0, INI_WARNING, "app.ini", 2,
                       "unknown key 'enable-thread', ignored; did you mean 'enable-threads'?");
        assert_message(f, 1, INI_WARNING, "app.ini", 3, "unknown key 'harakiri', ignored");
        assert_message(f, 2, INI_WARNING, "app.ini", 4,
                       "unknown key 'proceses', ignored; did you mean 'processes'?");
        assert_false(f->config.enable_threads);
}

static void test_suggest_and_find(void **state) {
        const size_t n = ELEMENTSOF(test_options);

        (void) state;
        assert_ptr_equal(conf_find(test_options, n, "chdir"), &test_options[8]);
        assert_null(conf_find(test_options, n, "chdi"));
        assert_string_equal(conf_suggest(test_options, n, "chdi"), "chdir");
        assert_string_equal(conf_suggest(test_options, n, "Master"), "master");
        assert_string_equal(conf_suggest(test_options, n, "buffersize"), "buffer-size");
        assert_null(conf_suggest(test_options, n, "socket"));
        assert_null(conf_suggest(test_options, n, "x"));
        assert_null(conf_suggest(test_options, n, "an-extremely-long-key-that-matches-nothing-at-all"));
}

static void test_referenced_custom_key_is_not_warned(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\nproject = site1\nchdir = /srv/%(project)\nstray = 1\n"), 0);
        assert_string_equal(f->config.chdir, "/srv/site1");
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_WARNING, "app.ini", 4, "unknown key 'stray', ignored");
}

static void test_ignored_key_warns_only_with_help(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\ndaemonize = /var/log/app.log\nvacuum = true\n"), 0);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_WARNING, "app.ini", 2,
                       "'daemonize' has no effect here: the emperor supervises vassals; log to stderr");
}

static void test_strv_accumulates_every_occurrence(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\nenv = A=1\nenv = B=2\nmaster = 1\nenv = C=3\n"), 0);
        assert_non_null(f->config.env);
        assert_string_equal(f->config.env[0], "A=1");
        assert_string_equal(f->config.env[1], "B=2");
        assert_string_equal(f->config.env[2], "C=3");
        assert_null(f->config.env[3]);
}

static void test_string_replacement_frees_the_old_value(void **state) {
        Fixture *f = *state;

        /* Run under ASan: LeakSanitizer fails the test if "/a" or "/b" leaks. */
        f->config.chdir = strdup("/default");
        assert_int_equal(apply(f, "[uwsgi]\nchdir = /a\nchdir = /b\nchdir = /c\n"), 0);
        assert_string_equal(f->config.chdir, "/c");
}

static void test_conf_free_clears_fields(void **state) {
        Fixture *f = *state;

        assert_int_equal(apply(f, "[uwsgi]\nchdir = /a\nenv = X=1\n"), 0);
        conf_free(test_options, ELEMENTSOF(test_options), &f->config);
        assert_null(f->config.chdir);
        assert_null(f->config.env);
        /* Twice is harmless. */
        conf_free(test_options, ELEMENTSOF(test_options), &f->config);
}

static void test_argv_key_space_value(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--processes", "4", NULL), 0);
        assert_int_equal(n, 0);
        assert_int_equal(apply_ini(f), 0);
        assert_int_equal(f->config.processes, 4);
        assert_string_equal(ini_entry(f->ini, 0)->file, "command line");
        assert_int_equal(ini_entry(f->ini, 0)->line, 0);
}

static void test_argv_key_equals_value(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--processes=4", "--chdir=/a=b", "--master=", NULL), 0);
        assert_int_equal(n, 0);
        assert_int_equal(apply_ini(f), 0);
        assert_int_equal(f->config.processes, 4);
        assert_string_equal(f->config.chdir, "/a=b");
        assert_true(f->config.master);
}

static void test_argv_bare_bool_is_true(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--master", NULL), 0);
        assert_int_equal(n, 0);
        assert_string_equal(ini_get(f->ini, "master"), "true");
        assert_int_equal(apply_ini(f), 0);
        assert_true(f->config.master);
}

static void test_argv_bool_takes_a_following_boolean(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--master", "off", "--enable-threads", "--processes", "2",
                                    NULL),
                         0);
        assert_int_equal(n, 0);
        assert_int_equal(apply_ini(f), 0);
        assert_false(f->config.master);
        assert_true(f->config.enable_threads);
        assert_int_equal(f->config.processes, 2);
}

static void test_argv_bool_leaves_ini_positional(void **state) {
        Fixture *f = *state;
        char *pos[1] = {};
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--master", "app.ini", NULL), 0);
        assert_int_equal(n, 1);
        assert_string_equal(pos[0], "app.ini");
        assert_string_equal(ini_get(f->ini, "master"), "true");
}

static void test_argv_positional_ini(void **state) {
        Fixture *f = *state;
        char *pos[1] = {};
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "app.ini", "--processes", "3", NULL), 0);
        assert_int_equal(n, 1);
        assert_string_equal(pos[0], "app.ini");
        assert_int_equal(ini_size(f->ini), 1);
}

static void test_argv_double_dash_ends_options(void **state) {
        Fixture *f = *state;
        char *pos[2] = {};
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 2, &n, "--master", "--", "--weird.ini", NULL), 0);
        assert_int_equal(n, 1);
        assert_string_equal(pos[0], "--weird.ini");
}

static void test_argv_missing_value_is_an_error(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--chdir", "--processes", NULL), -EINVAL);
        assert_int_equal(f->n_messages, 2);
        assert_message(f, 0, INI_ERROR, "command line", 0, "option '--chdir' requires a value");
        assert_message(f, 1, INI_ERROR, "command line", 0, "option '--processes' requires a value");
}

static void test_argv_too_many_positionals_is_an_error(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "a.ini", "b.ini", NULL), -EINVAL);
        assert_int_equal(n, 1);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "command line", 0, "unexpected argument 'b.ini'");
}

static void test_argv_unknown_key_takes_next_unless_option(void **state) {
        Fixture *f = *state;
        char *pos[1] = {};
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--http-socket", ":8080", "--vacuum", "--lazy-apps",
                                    NULL),
                         0);
        assert_int_equal(n, 0);
        assert_string_equal(ini_get(f->ini, "http-socket"), ":8080");
        assert_string_equal(ini_get(f->ini, "vacuum"), "true");
        assert_string_equal(ini_get(f->ini, "lazy-apps"), "true");
        /* Warned about as in an ini, citing the command line. */
        assert_int_equal(apply_ini(f), 0);
        assert_int_equal(f->n_messages, 2);
        assert_message(f, 0, INI_WARNING, "command line", 0, "unknown key 'http-socket', ignored");
        assert_message(f, 1, INI_WARNING, "command line", 0, "unknown key 'lazy-apps', ignored");
}

static void test_argv_empty_option_name_is_an_error(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--=x", NULL), -EINVAL);
        assert_message(f, 0, INI_ERROR, "command line", 0, "'--=x': expected an option name after '--'");
}

static void test_argv_values_are_interpolated(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--base", "/srv", "--chdir", "%(base)/app", NULL), 0);
        assert_int_equal(apply_ini(f), 0);
        assert_string_equal(f->config.chdir, "/srv/app");
        assert_int_equal(f->n_messages, 0);
}

static void test_argv_then_bad_value_cites_command_line(void **state) {
        Fixture *f = *state;
        char *pos[1];
        size_t n = 99;

        assert_int_equal(parse_argv(f, pos, 1, &n, "--processes", "zero", NULL), 0);
        assert_int_equal(apply_ini(f), -EINVAL);
        assert_message(f, 0, INI_ERROR, "command line", 0, "processes: expected a positive integer");
}

/* A row typed for a field of another type does not compile (CONF_FIELD); a row for the
 * right type gives the field's offset. */
typedef struct Probe {
        char pad[3];
        int64_t listen;
} Probe;
static void test_conf_field_is_the_offset(void **state) {
        (void) state;
        assert_int_equal(CONF_FIELD(Probe, listen, int64_t), offsetof(Probe, listen));
}

/* ---- strict mode, refused keys, checked strings ---- */

typedef struct StrictConfig {
        bool strict;
        char **sockets;
} StrictConfig;

#define SOPT(n, t, field, ...) { .name = (n), .type = (t), .offset = offsetof(StrictConfig, field), __VA_ARGS__ }
static const ConfOption strict_options[] = {
        SOPT("strict", CONF_STRICT, strict),
        SOPT("socket", CONF_STRV, sockets, .parse = vkeys_parse_address),
        { .name = "spooler", .type = CONF_REFUSED, .help = "use Celery" },
        { .name = "route-*", .type = CONF_REFUSED, .help = "use nginx" },
};
#undef SOPT

/* Applies text with strict_options; returns conf_apply()'s result. */
static int apply_strict(Fixture *f, StrictConfig *c, const char *text) {
        assert_int_equal(ini_load_string(f->ini, "app.ini", text, strlen(text), NULL, on_diag, f), 0);
        return conf_apply(strict_options, ELEMENTSOF(strict_options), c, f->ini, on_diag, f);
}

static void test_strict_anywhere_makes_unknown_keys_errors(void **state) {
        Fixture *f = *state;
        StrictConfig c = {};

        assert_int_equal(apply_strict(f, &c, "[uwsgi]\nsockett = :1\nstrict = true\n"), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "app.ini", 2,
                       "unknown key 'sockett' (strict mode); did you mean 'socket'?");
        assert_true(c.strict);
        conf_free(strict_options, ELEMENTSOF(strict_options), &c);
}

static void test_strict_false_and_variables_stay_warnings(void **state) {
        Fixture *f = *state;
        StrictConfig c = {};

        assert_int_equal(apply_strict(f, &c, "[uwsgi]\nstrict = true\nport = 1\nsocket = :%(port)\n"
                                             "other = x\nstrict = false\n"), 0);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_WARNING, "app.ini", 5, "unknown key 'other', ignored");
        assert_string_equal(c.sockets[0], ":1");
        conf_free(strict_options, ELEMENTSOF(strict_options), &c);
}

static void test_refused_keys_and_prefixes_are_errors(void **state) {
        Fixture *f = *state;
        StrictConfig c = {};

        assert_int_equal(apply_strict(f, &c, "[uwsgi]\nspooler = /x\nroute-if = a b\n"), -EINVAL);
        assert_int_equal(f->n_messages, 2);
        assert_message(f, 0, INI_ERROR, "app.ini", 2, "'spooler' is not supported: use Celery");
        assert_message(f, 1, INI_ERROR, "app.ini", 3, "'route-if' is not supported: use nginx");
        /* A refused row is never a suggestion, nor does a prefix match a shorter key. */
        assert_null(conf_find(strict_options, ELEMENTSOF(strict_options), "route"));
        assert_null(conf_suggest(strict_options, ELEMENTSOF(strict_options), "spooller"));
        conf_free(strict_options, ELEMENTSOF(strict_options), &c);
}

static void test_checked_strv_refuses_bad_values(void **state) {
        Fixture *f = *state;
        StrictConfig c = {};

        assert_int_equal(apply_strict(f, &c, "[uwsgi]\nsocket = 127.0.0.1:99999\nsocket = :80\n"),
                         -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "app.ini", 2, "socket: expected a port between 0 and "
                       "65535 after the last ':' (HOST:PORT or :PORT)");
        assert_string_equal(c.sockets[0], ":80");
        assert_null(c.sockets[1]);
        conf_free(strict_options, ELEMENTSOF(strict_options), &c);
}

static void test_address_forms(void **state) {
        static const char *const good[] = { ":8080", "*:0", "0.0.0.0:65535", "[::1]:80",
                                            "[::]:80", "localhost:80", "a-b.example.com:80",
                                            "app.sock", "/run/a.sock", "./a.sock", "@abstract" };
        static const char *const bad[] = { "", "127.0.0.1:99999", "127.0.0.1:", ":", ":-1",
                                           ":80x", "::1:80", "[::1:80", "[1.2.3.4]:80",
                                           "999.1.1.1:80", "a_b:80", "a..b:80", "-:123456" };
        char long_path[200];
        const char *expected;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_int_equal(vkeys_parse_address(NULL, good[i], NULL, &expected), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                expected = NULL;
                assert_int_equal(vkeys_parse_address(NULL, bad[i], NULL, &expected), -EINVAL);
                assert_non_null(expected);
        }
        memset(long_path, 'x', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[108] = 0; /* 108 bytes: no room for the NUL in sun_path */
        assert_int_equal(vkeys_parse_address(NULL, long_path, NULL, &expected), -EINVAL);
        long_path[107] = 0;
        assert_int_equal(vkeys_parse_address(NULL, long_path, NULL, &expected), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_conf_field_is_the_offset),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_parse_bool_accepts_every_spelling),
                T(test_parse_int_accepts_decimal_and_rejects_garbage),
                T(test_parse_size_accepts_suffixes_and_rejects_garbage),
                T(test_every_type_parses_its_values),
                T(test_empty_mode_means_666),
                T(test_bad_values_are_reported_with_expectation),
                T(test_every_bad_value_is_reported),
                T(test_bad_value_keeps_the_default),
                T(test_unknown_key_suggests_the_closest),
                T(test_suggest_and_find),
                T(test_referenced_custom_key_is_not_warned),
                T(test_ignored_key_warns_only_with_help),
                T(test_strv_accumulates_every_occurrence),
                T(test_string_replacement_frees_the_old_value),
                T(test_conf_free_clears_fields),
                T(test_argv_key_space_value),
                T(test_argv_key_equals_value),
                T(test_argv_bare_bool_is_true),
                T(test_argv_bool_takes_a_following_boolean),
                T(test_argv_bool_leaves_ini_positional),
                T(test_argv_positional_ini),
                T(test_argv_double_dash_ends_options),
                T(test_argv_missing_value_is_an_error),
                T(test_argv_too_many_positionals_is_an_error),
                T(test_argv_unknown_key_takes_next_unless_option),
                T(test_argv_empty_option_name_is_an_error),
                T(test_argv_values_are_interpolated),
                T(test_argv_then_bad_value_cites_command_line),
                T(test_strict_anywhere_makes_unknown_keys_errors),
                T(test_strict_false_and_variables_stay_warnings),
                T(test_refused_keys_and_prefixes_are_errors),
                T(test_checked_strv_refuses_bad_values),
                T(test_address_forms),
#undef T
        };

        return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
