/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* Splits command and asserts the words are exactly the NULL-terminated list given. */
static void assert_split(const char *command, ...) {
        char **argv = NULL;
        const char *why = NULL;
        va_list ap;
        size_t i = 0;

        assert_int_equal(exec_split(command, &argv, &why), 0);
        assert_non_null(argv);
        va_start(ap, command);
        for (const char *w; (w = va_arg(ap, const char *)); i++) {
                assert_non_null(argv[i]);
                assert_string_equal(argv[i], w);
        }
        va_end(ap);
        assert_null(argv[i]);
        exec_argv_free(argv);
}

/* Asserts command is refused, with a reason containing fragment. */
static void assert_refused(const char *command, const char *fragment) {
        char **argv = NULL;
        const char *why = NULL;

        assert_int_equal(exec_split(command, &argv, &why), -EINVAL);
        assert_null(argv);
        assert_non_null(why);
        if (!strstr(why, fragment))
                fail_msg("'%s': reason '%s' lacks '%s'", command, why, fragment);
}

static void test_words_split_on_blanks(void **state) {
        (void) state;
        assert_split("/usr/bin/python3 -m http.server 8000", "/usr/bin/python3", "-m",
                     "http.server", "8000", NULL);
        assert_split("  a \t b\n", "a", "b", NULL);
        assert_split("single", "single", NULL);
}

static void test_quotes_keep_spaces(void **state) {
        (void) state;
        assert_split("prog 'a b' \"c d\"", "prog", "a b", "c d", NULL);
        assert_split("prog 'it''s' x'y'z", "prog", "its", "xyz", NULL);
        assert_split("prog '' \"\"", "prog", "", "", NULL);
        /* Inside single quotes nothing is special, operators included. */
        assert_split("/bin/sh -c 'echo $HOME | wc -c; exit 3'", "/bin/sh", "-c",
                     "echo $HOME | wc -c; exit 3", NULL);
        /* Inside double quotes a backslash escapes only \" \\ \$ \`. */
        assert_split("prog \"a\\\"b\" \"c\\\\d\" \"e\\nf\" \"\\$x\"", "prog", "a\"b", "c\\d",
                     "e\\nf", "$x", NULL);
}

static void test_backslash_escapes(void **state) {
        (void) state;
        assert_split("prog a\\ b \\'q\\' \\|", "prog", "a b", "'q'", "|", NULL);
}

static void test_refused(void **state) {
        (void) state;
        assert_refused("", "a command");
        assert_refused("   ", "a command");
        assert_refused("prog 'open", "matching quotes");
        assert_refused("prog \"open", "matching quotes");
        assert_refused("prog \\", "lone backslash");
        assert_refused("prog | grep x", "/bin/sh -c");
        assert_refused("prog > /tmp/log", "shell operator");
        assert_refused("prog && other", "shell operator");
        assert_refused("prog; other", "shell operator");
        assert_refused("prog $HOME", "shell operator");
        assert_refused("prog `id`", "shell operator");
        assert_refused("prog $(id)", "shell operator");
        assert_refused("prog \"$HOME\"", "'$'");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_words_split_on_blanks),
                cmocka_unit_test(test_quotes_keep_spaces),
                cmocka_unit_test(test_backslash_escapes),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests_name("exec", tests, NULL, NULL);
}
