/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ini.h"

/* One diagnostic as the parser reported it. */
typedef struct Message {
        IniLevel level;
        char *file;
        unsigned line;
        char *text;
} Message;

typedef struct Fixture {
        Ini *ini;
        Message messages[32];
        size_t n_messages;
        size_t n_dropped;
        char dir[64]; /* a private temp dir, for tests that need real files */
} Fixture;

static void on_diag(void *userdata, IniLevel level, const char *file, unsigned line,
                    const char *message) {
        Fixture *f = userdata;

        /* The parser must never hand out a NULL or a prefixed message. */
        assert_non_null(file);
        assert_non_null(message);
        if (f->n_messages >= ELEMENTSOF(f->messages)) {
                f->n_dropped++;
                return;
        }
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
        *state = f;
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path) < 0 ? -1 : 0;
}

static void remove_tree(const char *dir) {
        /* Depth first, not following symlinks: only what the test made under its own dir. */
        assert_int_equal(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static int teardown(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; i < f->n_messages; i++) {
                free(f->messages[i].file);
                free(f->messages[i].text);
        }
        if (f->dir[0])
                remove_tree(f->dir);
        ini_free(f->ini);
        free(f);
        return 0;
}

static int load(Fixture *f, const char *text) {
        return ini_load_string(f->ini, "test.ini", text, strlen(text), NULL, on_diag, f);
}

static int load_section(Fixture *f, const char *text, const char *section) {
        return ini_load_string(f->ini, "test.ini", text, strlen(text), section, on_diag, f);
}

static void assert_message(const Fixture *f, size_t i, IniLevel level, const char *file,
                           unsigned line, const char *text) {
        assert_true(i < f->n_messages);
        assert_string_equal(f->messages[i].text, text);
        assert_int_equal(f->messages[i].level, level);
        assert_string_equal(f->messages[i].file, file);
        assert_int_equal(f->messages[i].line, line);
}

static void assert_entry(const Fixture *f, size_t i, const char *key, const char *value,
                         unsigned line) {
        const IniEntry *e = ini_entry(f->ini, i);

        assert_non_null(e);
        assert_string_equal(e->key, key);
        assert_string_equal(e->value, value);
        assert_int_equal(e->line, line);
}

static void make_dir(Fixture *f) {
        strcpy(f->dir, "/tmp/test-ini-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
}

/* Writes text to dir/name and returns the path in buf. */
static const char *write_file(Fixture *f, const char *name, const char *text, char *buf, size_t n) {
        FILE *file;

        if (!f->dir[0])
                make_dir(f);
        (void) snprintf(buf, n, "%s/%s", f->dir, name);
        file = fopen(buf, "we");
        assert_non_null(file);
        assert_int_equal(fputs(text, file) >= 0, 1);
        assert_int_equal(fclose(file), 0);
        return buf;
}

static void test_default_reads_uwsgi_and_vassal_sections_in_order(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "master = true\n"
                                 "[other]\n"
                                 "processes = 8\n"
                                 "[vassal]\n"
                                 "processes = 4\n"
                                 "[uwsgi]\n"
                                 "threads = 2\n"),
                         0);
        assert_int_equal(ini_size(f->ini), 3);
        assert_entry(f, 0, "master", "true", 2);
        assert_entry(f, 1, "processes", "4", 6);
        assert_entry(f, 2, "threads", "2", 8);
        assert_string_equal(ini_entry(f->ini, 0)->file, "test.ini");
        assert_int_equal(f->n_messages, 0);
}

static void test_lines_outside_read_sections_are_not_checked(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "stray = before any section\n"
                                 "[other]\n"
                                 "not a key value line\n"
                                 "x = %(undefined)\n"
                                 "[uwsgi]\n"
                                 "a = 1\n"),
                         0);
        assert_int_equal(ini_size(f->ini), 1);
        assert_entry(f, 0, "a", "1", 6);
        assert_int_equal(f->n_messages, 0);
}

static void test_section_argument_picks_only_that_section(void **state) {
        Fixture *f = *state;

        assert_int_equal(load_section(f, "[uwsgi]\n"
                                         "a = 1\n"
                                         "[ app ]\n"
                                         "b = 2\n",
                                      "app"),
                         0);
        assert_int_equal(ini_size(f->ini), 1);
        assert_entry(f, 0, "b", "2", 4);
}

static void test_missing_uwsgi_section_is_an_error(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[other]\na = 1\n"), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 0, "no [uwsgi] section");
}

static void test_missing_named_section_is_an_error(void **state) {
        Fixture *f = *state;

        assert_int_equal(load_section(f, "[uwsgi]\na = 1\n", "app"), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 0, "no [app] section");
}

static void test_empty_uwsgi_section_is_fine(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"), 0);
        assert_int_equal(ini_size(f->ini), 0);
}

static void test_bad_section_header_is_an_error(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi\n[uwsgi] junk\n[uwsgi] ; fine\na = 1\n"), -EINVAL);
        assert_int_equal(f->n_messages, 2);
        assert_message(f, 0, INI_ERROR, "test.ini", 1, "expected ']' at the end of the section header");
        assert_message(f, 1, INI_ERROR, "test.ini", 2, "unexpected text after the section header");
        assert_int_equal(ini_size(f->ini), 1);
}

static void test_comment_lines_are_skipped(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "; leading comment\n"
                                 "[uwsgi]\n"
                                 "# hash comment\n"
                                 "   ; indented comment\n"
                                 "\t# tab comment = not a key\n"
                                 "\n"
                                 "a = 1\n"),
                         0);
        assert_int_equal(ini_size(f->ini), 1);
        assert_entry(f, 0, "a", "1", 7);
        assert_int_equal(f->n_messages, 0);
}

static void test_inline_comment_is_removed_with_warning(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "uid = www-data # the default user\n"
                                 "gid = www-data\t; tab before it\n"
                                 "empty = # only a comment\n"),
                         0);
        assert_entry(f, 0, "uid", "www-data", 2);
        assert_entry(f, 1, "gid", "www-data", 3);
        assert_entry(f, 2, "empty", "", 4);
        assert_int_equal(f->n_messages, 3);
        assert_message(f, 0, INI_WARNING, "test.ini", 2,
                       "comment after the value was removed: '# the default user'");
        assert_message(f, 1, INI_WARNING, "test.ini", 3,
                       "comment after the value was removed: '; tab before it'");
        assert_message(f, 2, INI_WARNING, "test.ini", 4,
                       "comment after the value was removed: '# only a comment'");
}

static void test_hash_without_whitespace_before_is_kept(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "a = b\n"
                                 "url = http://x/#frag\n"
                                 "ref = %(a)#b\n"
                                 "env = PATH=/a;/b\n"
                                 "hash =#x\n"),
                         0);
        assert_entry(f, 1, "url", "http://x/#frag", 3);
        assert_entry(f, 2, "ref", "b#b", 4);
        assert_entry(f, 3, "env", "PATH=/a;/b", 5);
        assert_entry(f, 4, "hash", "#x", 6);
        assert_int_equal(f->n_messages, 0);
}

static void test_quotes_are_removed_and_protect_comments(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "a = \"quoted # not a comment\"\n"
                                 "b = \"  spaces kept  \"\n"
                                 "c = \"\"\n"
                                 "d = \"x\" # a comment\n"
                                 "e = \"a\"b\"\n"
                                 "f = \"unterminated\n"
                                 "g = say \"hi\"\n"),
                         0);
        assert_entry(f, 0, "a", "quoted # not a comment", 2);
        assert_entry(f, 1, "b", "  spaces kept  ", 3);
        assert_entry(f, 2, "c", "", 4);
        assert_entry(f, 3, "d", "x", 5);
        assert_entry(f, 4, "e", "a\"b", 6);
        assert_entry(f, 5, "f", "\"unterminated", 7);
        assert_entry(f, 6, "g", "say \"hi\"", 8);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_WARNING, "test.ini", 5, "comment after the value was removed: '# a comment'");
}

static void test_keys_and_values_are_trimmed(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "  spaced key \t=\t  v a l  \n"
                                 "nospace=1\n"
                                 "eq = a=b=c\n"
                                 "flag =\n"
                                 "flag2="),
                         0);
        assert_entry(f, 0, "spaced key", "v a l", 2);
        assert_entry(f, 1, "nospace", "1", 3);
        assert_entry(f, 2, "eq", "a=b=c", 4);
        assert_entry(f, 3, "flag", "", 5);
        assert_entry(f, 4, "flag2", "", 6);
}

static void test_repeated_keys_accumulate_in_order(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "env = A=1\n"
                                 "socket = :8080\n"
                                 "env = B=2\n"
                                 "env = C=3\n"),
                         0);
        assert_int_equal(ini_size(f->ini), 4);
        assert_entry(f, 0, "env", "A=1", 2);
        assert_entry(f, 2, "env", "B=2", 4);
        assert_entry(f, 3, "env", "C=3", 5);
        assert_string_equal(ini_get(f->ini, "env"), "C=3");
        assert_null(ini_get(f->ini, "missing"));
}

static void test_line_without_equals_is_an_error(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\nmaster\na = 1\n"), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 2, "expected 'key = value'");
}

static void test_empty_key_is_an_error(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n  = value\n"), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 2, "expected a key before '='");
}

static void test_every_bad_line_is_reported(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\nbad one\ngood = 1\nbad two\nx = %(nope)\n"), -EINVAL);
        assert_int_equal(f->n_messages, 3);
        assert_message(f, 0, INI_ERROR, "test.ini", 2, "expected 'key = value'");
        assert_message(f, 1, INI_ERROR, "test.ini", 4, "expected 'key = value'");
        assert_message(f, 2, INI_ERROR, "test.ini", 5, "%(nope): no such key defined before this line");
}

static void test_interpolation_uses_earlier_custom_key(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "base = /srv\n"
                                 "project = site1\n"
                                 "chdir = %(base)/%(project)\n"
                                 "unused = x\n"),
                         0);
        assert_entry(f, 2, "chdir", "/srv/site1", 4);
        assert_true(ini_entry(f->ini, 0)->referenced);
        assert_true(ini_entry(f->ini, 1)->referenced);
        assert_false(ini_entry(f->ini, 2)->referenced);
        assert_false(ini_entry(f->ini, 3)->referenced);
        assert_int_equal(f->n_messages, 0);
}

static void test_interpolation_takes_latest_value_so_far(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "base = /srv\n"
                                 "a = %(base)\n"
                                 "base = /other\n"
                                 "b = %(base)\n"
                                 "base = %(base)/more\n"),
                         0);
        assert_entry(f, 1, "a", "/srv", 3);
        assert_entry(f, 3, "b", "/other", 5);
        assert_entry(f, 4, "base", "/other/more", 6);
        assert_true(ini_entry(f->ini, 0)->referenced);
}

static void test_expanded_value_is_not_expanded_again(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "a = %%(b)\n"
                                 "b = x\n"
                                 "c = %(a)\n"),
                         0);
        assert_entry(f, 0, "a", "%(b)", 2);
        assert_entry(f, 2, "c", "%(b)", 4);
}

static void test_unknown_reference_is_an_error_with_line(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\n"
                                 "a = 1\n"
                                 "b = %(a)-%(later)-%(other)\n"
                                 "later = 2\n"),
                         -EINVAL);
        assert_int_equal(f->n_messages, 2);
        assert_message(f, 0, INI_ERROR, "test.ini", 3, "%(later): no such key defined before this line");
        assert_message(f, 1, INI_ERROR, "test.ini", 3, "%(other): no such key defined before this line");
        assert_null(ini_get(f->ini, "b"));
}

static void test_log_format_keeps_unknown_references(void **state) {
        Fixture *f = *state;

        /* uWSGI expands these per request: a common line in real uwsgi.ini files. */
        assert_int_equal(load(f, "[uwsgi]\n"
                                 "app = site1\n"
                                 "log-format = %(app) %(addr) [%(ltime)] \"%(method) %(uri)\" %(status)\n"),
                         0);
        assert_entry(f, 1, "log-format", "site1 %(addr) [%(ltime)] \"%(method) %(uri)\" %(status)", 3);
        assert_int_equal(f->n_messages, 0);
}

static void test_unterminated_references_are_kept(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\na = %(b\nc = $(HOME\nd = $HOME 5$ 100%\n"), 0);
        assert_entry(f, 0, "a", "%(b", 2);
        assert_entry(f, 1, "c", "$(HOME", 3);
        assert_entry(f, 2, "d", "$HOME 5$ 100%", 4);
        assert_int_equal(f->n_messages, 0);
}

static void test_percent_percent_is_a_percent(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\na = 100%%\nb = %%d\n"), 0);
        assert_entry(f, 0, "a", "100%", 2);
        assert_entry(f, 1, "b", "%d", 3);
}

static void test_unsupported_magic_variable_is_kept_with_warning(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\nprocesses = %k\n"), 0);
        assert_entry(f, 0, "processes", "%k", 2);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_WARNING, "test.ini", 2, "unsupported magic variable '%k' kept as is");
}

static void test_magic_variables_from_real_file(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX], expected[PATH_MAX * 2];

        write_file(f, "site1.ini",
                   "[uwsgi]\n"
                   "d = %d\n"
                   "n = %n\n"
                   "p = %p\n"
                   "s = %s\n"
                   "wsgi-file = %dapp.py\n",
                   path, sizeof(path));
        assert_int_equal(ini_load_file(f->ini, path, on_diag, f), 0);
        assert_int_equal(f->n_messages, 0);
        (void) snprintf(expected, sizeof(expected), "%s/", f->dir);
        assert_string_equal(ini_get(f->ini, "d"), expected);
        assert_string_equal(ini_get(f->ini, "n"), "site1");
        assert_string_equal(ini_get(f->ini, "p"), path);
        assert_string_equal(ini_get(f->ini, "s"), "site1.ini");
        (void) snprintf(expected, sizeof(expected), "%s/app.py", f->dir);
        assert_string_equal(ini_get(f->ini, "wsgi-file"), expected);
        assert_string_equal(ini_path(f->ini), path);
        assert_string_equal(ini_entry(f->ini, 0)->file, path);
}

static void test_magic_variables_of_relative_path_are_absolute(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX], cwd[PATH_MAX], expected[PATH_MAX * 2];
        int saved;

        write_file(f, "my.app.conf", "[uwsgi]\nd = %d\nn = %n\np = %p\nc = %c\ne = %e\n", path, sizeof(path));
        saved = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(saved >= 0);
        assert_int_equal(chdir(f->dir), 0);
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(ini_load_file(f->ini, "./my.app.conf", on_diag, f), 0);
        assert_int_equal(fchdir(saved), 0);
        (void) close(saved);

        (void) snprintf(expected, sizeof(expected), "%s/", cwd);
        assert_string_equal(ini_get(f->ini, "d"), expected);
        /* Like uWSGI: the last extension goes, whatever it is. */
        assert_string_equal(ini_get(f->ini, "n"), "my.app");
        (void) snprintf(expected, sizeof(expected), "%s/my.app.conf", cwd);
        assert_string_equal(ini_get(f->ini, "p"), expected);
        assert_string_equal(ini_path(f->ini), expected);
        assert_string_equal(ini_get(f->ini, "c"), strrchr(cwd, '/') + 1);
        assert_string_equal(ini_get(f->ini, "e"), "conf");
        /* Diagnostics name the file as the user gave it. */
        assert_string_equal(ini_entry(f->ini, 0)->file, "./my.app.conf");
}

static void test_magic_variables_of_symlink_use_the_link_directory(void **state) {
        Fixture *f = *state;
        char target[PATH_MAX], link[PATH_MAX * 2], expected[PATH_MAX * 2];

        write_file(f, "real.ini", "[uwsgi]\nd = %d\nn = %n\n", target, sizeof(target));
        assert_int_equal(mkdir(strcat(strcpy(link, f->dir), "/enabled"), 0700), 0);
        strcat(link, "/site.ini");
        assert_int_equal(symlink(target, link), 0);

        assert_int_equal(ini_load_file(f->ini, link, on_diag, f), 0);
        /* As uWSGI: apps-enabled/site.ini -> apps-available/... still says apps-enabled. */
        (void) snprintf(expected, sizeof(expected), "%s/enabled/", f->dir);
        assert_string_equal(ini_get(f->ini, "d"), expected);
        assert_string_equal(ini_get(f->ini, "n"), "site");
}

static void test_magic_variables_of_string_name(void **state) {
        Fixture *f = *state;
        const char *text = "[uwsgi]\nd = %d\nn = %n\np = %p\ns = %s\n";

        assert_int_equal(ini_load_string(f->ini, "/etc/apps.d/./blog.ini", text, strlen(text), NULL,
                                         on_diag, f),
                         0);
        assert_string_equal(ini_get(f->ini, "d"), "/etc/apps.d/");
        assert_string_equal(ini_get(f->ini, "n"), "blog");
        assert_string_equal(ini_get(f->ini, "p"), "/etc/apps.d/blog.ini");
        assert_string_equal(ini_get(f->ini, "s"), "blog.ini");
        assert_string_equal(ini_path(f->ini), "/etc/apps.d/blog.ini");
}

static void test_string_name_is_made_absolute_without_the_filesystem(void **state) {
        Fixture *f = *state;
        char cwd[PATH_MAX], expected[PATH_MAX * 2];

        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(ini_load_string(f->ini, "no/such//dir/app.ini", "[uwsgi]\n", 8, NULL, on_diag, f), 0);
        (void) snprintf(expected, sizeof(expected), "%s/no/such/dir/app.ini", cwd);
        assert_string_equal(ini_path(f->ini), expected);
}

static void test_environment_variable_is_expanded(void **state) {
        Fixture *f = *state;

        assert_int_equal(setenv("EMPEROR_TEST_HOME", "/home/app", 1), 0);
        assert_int_equal(load(f, "[uwsgi]\nchdir = $(EMPEROR_TEST_HOME)/site\n"), 0);
        assert_entry(f, 0, "chdir", "/home/app/site", 2);
        assert_int_equal(f->n_messages, 0);
        assert_int_equal(unsetenv("EMPEROR_TEST_HOME"), 0);
}

static void test_unset_environment_variable_is_empty_with_warning(void **state) {
        Fixture *f = *state;

        assert_int_equal(unsetenv("EMPEROR_TEST_UNSET"), 0);
        assert_int_equal(load(f, "[uwsgi]\na = [$(EMPEROR_TEST_UNSET)]\n"), 0);
        assert_entry(f, 0, "a", "[]", 2);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_WARNING, "test.ini", 2,
                       "environment variable 'EMPEROR_TEST_UNSET' is not set, using an empty value");
}

static void test_crlf_line_endings(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "[uwsgi]\r\n"
                                 "processes = 4\r\n"
                                 "name = \"x y\"\r\n"
                                 "\r\n"
                                 "; comment\r\n"
                                 "last = z"),
                         0);
        assert_int_equal(ini_size(f->ini), 3);
        assert_entry(f, 0, "processes", "4", 2);
        assert_entry(f, 1, "name", "x y", 3);
        assert_entry(f, 2, "last", "z", 6);
}

static void test_utf8_byte_order_mark_is_skipped(void **state) {
        Fixture *f = *state;

        assert_int_equal(load(f, "\xef\xbb\xbf[uwsgi]\na = 1\n"), 0);
        assert_entry(f, 0, "a", "1", 2);
}

static void test_nul_byte_is_an_error(void **state) {
        Fixture *f = *state;
        static const char text[] = "[uwsgi]\na = b\0c\nd = e\n";

        assert_int_equal(ini_load_string(f->ini, "test.ini", text, sizeof(text) - 1, NULL, on_diag, f),
                         -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 2, "unexpected NUL byte");
        assert_entry(f, 0, "d", "e", 3);
}

static void test_line_too_long_is_an_error(void **state) {
        Fixture *f = *state;
        size_t n = 70000;
        char *text = malloc(n + 32);

        assert_non_null(text);
        strcpy(text, "[uwsgi]\nk = ");
        memset(text + strlen(text), 'x', n);
        strcpy(text + 12 + n, "\nnext = 1\n");
        assert_int_equal(load(f, text), -EINVAL);
        free(text);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 2, "line too long (limit 65536 bytes)");
        assert_int_equal(ini_size(f->ini), 1);
        assert_entry(f, 0, "next", "1", 3);
}

static void test_expansion_too_long_is_an_error(void **state) {
        Fixture *f = *state;
        size_t n = 40000;
        char *text = malloc(n + 64);

        assert_non_null(text);
        strcpy(text, "[uwsgi]\na = ");
        memset(text + 12, 'x', n);
        strcpy(text + 12 + n, "\nb = %(a)%(a)\n");
        assert_int_equal(load(f, text), -EINVAL);
        free(text);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 3, "value too long after expansion (limit 65536 bytes)");
        assert_null(ini_get(f->ini, "b"));
}

static void test_too_many_entries_is_an_error(void **state) {
        Fixture *f = *state;
        size_t n = 10001;
        char *text = malloc(16 + n * 6), *p;

        assert_non_null(text);
        p = stpcpy(text, "[uwsgi]\n");
        for (size_t i = 0; i < n; i++)
                p = stpcpy(p, "k = v\n");
        assert_int_equal(load(f, text), -EINVAL);
        free(text);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "test.ini", 10002, "too many entries (limit 10000)");
        assert_int_equal(ini_size(f->ini), 10000);
}

static void test_file_colon_section_picks_one(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX], spec[PATH_MAX + 16];

        write_file(f, "app.ini", "[uwsgi]\na = 1\n[blue]\nb = %n\n", path, sizeof(path));
        (void) snprintf(spec, sizeof(spec), "%s:blue", path);
        assert_int_equal(ini_load_file(f->ini, spec, on_diag, f), 0);
        assert_int_equal(ini_size(f->ini), 1);
        assert_entry(f, 0, "b", "app", 4);
        assert_string_equal(ini_path(f->ini), path);
        assert_string_equal(ini_entry(f->ini, 0)->file, path);
}

static void test_file_colon_missing_section_is_an_error(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX], spec[PATH_MAX + 16];

        write_file(f, "app.ini", "[uwsgi]\na = 1\n", path, sizeof(path));
        (void) snprintf(spec, sizeof(spec), "%s:green", path);
        assert_int_equal(ini_load_file(f->ini, spec, on_diag, f), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, path, 0, "no [green] section");
}

static void test_existing_file_with_colon_is_not_split(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX];

        write_file(f, "odd:name.ini", "[uwsgi]\na = %s\n", path, sizeof(path));
        assert_int_equal(ini_load_file(f->ini, path, on_diag, f), 0);
        assert_entry(f, 0, "a", "odd:name.ini", 2);
}

static void test_colon_before_a_slash_is_not_a_section(void **state) {
        Fixture *f = *state;

        assert_int_equal(ini_load_file(f->ini, "/nonexistent:dir/app.ini", on_diag, f), -ENOENT);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "/nonexistent:dir/app.ini", 0,
                       "cannot read: No such file or directory");
}

static void test_missing_file_reports_cannot_read(void **state) {
        Fixture *f = *state;

        assert_int_equal(ini_load_file(f->ini, "/nonexistent/app.ini", on_diag, f), -ENOENT);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "/nonexistent/app.ini", 0, "cannot read: No such file or directory");
        assert_null(ini_path(f->ini));
}

static void test_directory_reports_cannot_read(void **state) {
        Fixture *f = *state;

        make_dir(f);
        assert_int_equal(ini_load_file(f->ini, f->dir, on_diag, f), -EISDIR);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, f->dir, 0, "cannot read: Is a directory");
}

static void test_ini_add_interpolates_like_a_file(void **state) {
        Fixture *f = *state;

        assert_int_equal(ini_load_string(f->ini, "/etc/apps.d/blog.ini", "[uwsgi]\nbase = /srv\n", 20,
                                         NULL, on_diag, f),
                         0);
        assert_int_equal(ini_add(f->ini, "chdir", "%(base)/%n", "command line", 0, on_diag, f), 0);
        assert_entry(f, 1, "chdir", "/srv/blog", 0);
        assert_string_equal(ini_entry(f->ini, 1)->file, "command line");
        assert_true(ini_entry(f->ini, 0)->referenced);
        /* Command-line values are taken literally otherwise: no quotes or comments. */
        assert_int_equal(ini_add(f->ini, "x", "\"a\" # b", "command line", 0, on_diag, f), 0);
        assert_string_equal(ini_get(f->ini, "x"), "\"a\" # b");
        assert_int_equal(f->n_messages, 0);
}

static void test_ini_add_reports_unknown_reference(void **state) {
        Fixture *f = *state;

        assert_int_equal(ini_add(f->ini, "chdir", "%(nope)", "command line", 0, on_diag, f), -EINVAL);
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_ERROR, "command line", 0, "%(nope): no such key defined before this line");
        assert_int_equal(ini_size(f->ini), 0);
        assert_int_equal(ini_add(f->ini, "", "v", "command line", 0, on_diag, f), -EINVAL);
        assert_message(f, 1, INI_ERROR, "command line", 0, "empty key");
}

static void test_ini_add_before_any_file_keeps_file_variables(void **state) {
        Fixture *f = *state;

        assert_int_equal(ini_add(f->ini, "chdir", "%d", "command line", 0, on_diag, f), 0);
        assert_string_equal(ini_get(f->ini, "chdir"), "%d");
        assert_int_equal(f->n_messages, 1);
        assert_message(f, 0, INI_WARNING, "command line", 0,
                       "magic variable '%d' has no file to refer to, kept as is");
}

static void test_later_file_sees_earlier_entries(void **state) {
        Fixture *f = *state;

        assert_int_equal(ini_add(f->ini, "base", "/opt", "command line", 0, on_diag, f), 0);
        assert_int_equal(load(f, "[uwsgi]\nchdir = %(base)/app\n"), 0);
        assert_entry(f, 1, "chdir", "/opt/app", 2);
        assert_string_equal(ini_entry(f->ini, 0)->file, "command line");
        assert_string_equal(ini_entry(f->ini, 1)->file, "test.ini");
}

static void test_empty_text_has_no_section(void **state) {
        Fixture *f = *state;

        assert_int_equal(ini_load_string(f->ini, "empty.ini", NULL, 0, NULL, on_diag, f), -EINVAL);
        assert_message(f, 0, INI_ERROR, "empty.ini", 0, "no [uwsgi] section");
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_default_reads_uwsgi_and_vassal_sections_in_order),
                T(test_lines_outside_read_sections_are_not_checked),
                T(test_section_argument_picks_only_that_section),
                T(test_missing_uwsgi_section_is_an_error),
                T(test_missing_named_section_is_an_error),
                T(test_empty_uwsgi_section_is_fine),
                T(test_bad_section_header_is_an_error),
                T(test_comment_lines_are_skipped),
                T(test_inline_comment_is_removed_with_warning),
                T(test_hash_without_whitespace_before_is_kept),
                T(test_quotes_are_removed_and_protect_comments),
                T(test_keys_and_values_are_trimmed),
                T(test_repeated_keys_accumulate_in_order),
                T(test_line_without_equals_is_an_error),
                T(test_empty_key_is_an_error),
                T(test_every_bad_line_is_reported),
                T(test_interpolation_uses_earlier_custom_key),
                T(test_interpolation_takes_latest_value_so_far),
                T(test_expanded_value_is_not_expanded_again),
                T(test_unknown_reference_is_an_error_with_line),
                T(test_log_format_keeps_unknown_references),
                T(test_unterminated_references_are_kept),
                T(test_percent_percent_is_a_percent),
                T(test_unsupported_magic_variable_is_kept_with_warning),
                T(test_magic_variables_from_real_file),
                T(test_magic_variables_of_relative_path_are_absolute),
                T(test_magic_variables_of_symlink_use_the_link_directory),
                T(test_magic_variables_of_string_name),
                T(test_string_name_is_made_absolute_without_the_filesystem),
                T(test_environment_variable_is_expanded),
                T(test_unset_environment_variable_is_empty_with_warning),
                T(test_crlf_line_endings),
                T(test_utf8_byte_order_mark_is_skipped),
                T(test_nul_byte_is_an_error),
                T(test_line_too_long_is_an_error),
                T(test_expansion_too_long_is_an_error),
                T(test_too_many_entries_is_an_error),
                T(test_file_colon_section_picks_one),
                T(test_file_colon_missing_section_is_an_error),
                T(test_existing_file_with_colon_is_not_split),
                T(test_colon_before_a_slash_is_not_a_section),
                T(test_missing_file_reports_cannot_read),
                T(test_directory_reports_cannot_read),
                T(test_ini_add_interpolates_like_a_file),
                T(test_ini_add_reports_unknown_reference),
                T(test_ini_add_before_any_file_keeps_file_variables),
                T(test_later_file_sees_earlier_entries),
                T(test_empty_text_has_no_section),
#undef T
        };

        return cmocka_run_group_tests_name("ini", tests, NULL, NULL);
}
