/* SPDX-License-Identifier: MIT */
/* lib/procname.c: the titles the uWSGI options compose, and the title written over argv's
 * bytes without touching what follows them (the environment). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "procname.h"

static const char *title(const ProcnameOptions *o, int id) {
        static char buf[256];
        procname_format(o, id, buf, sizeof(buf));
        return buf;
}

static void test_automatic_names(void **state) {
        ProcnameOptions o = { .enabled = true, .name = "hello" };
        (void) state;
        assert_string_equal(title(&o, 0), "vassal hello master");
        assert_string_equal(title(&o, 2), "vassal hello worker 2");
        o.name = NULL;
        assert_string_equal(title(&o, 0), "vassal master");
}

static void test_disabled_gives_none(void **state) {
        ProcnameOptions o = { .name = "hello" };
        char buf[8] = "x";
        (void) state;
        assert_false(procname_format(&o, 0, buf, sizeof(buf)));
        assert_string_equal(buf, "");
}

static void test_uwsgi_options_compose(void **state) {
        ProcnameOptions o = { .enabled = true, .name = "app", .master = "boss",
                              .prefix = "x-", .prefix_spaced = "[prod]", .append = " (v2)" };
        (void) state;
        assert_string_equal(title(&o, 0), "x-[prod] boss (v2)");
        assert_string_equal(title(&o, 1), "x-[prod] vassal app worker 1 (v2)");
        o.procname = "web";
        assert_string_equal(title(&o, 3), "x-[prod] web (v2)");
        assert_string_equal(title(&o, 0), "x-[prod] boss (v2)");
}

/* The title fills argv's bytes, cut to fit and NUL-padded; the next bytes (the environment,
 * in a real process) stay as they were, and argv now points at copies. */
static void test_title_stays_in_argv_area(void **state) {
        char mem[] = "vassal\0/etc/apps.d/hello.ini\0EMPEROR_VASSAL=hello";
        char *argv[] = { mem, mem + 7, NULL };
        const char *env = mem + 7 + strlen(mem + 7) + 1;
        (void) state;
        assert_int_equal(procname_init(2, argv), 0);
        assert_ptr_not_equal(argv[0], mem);
        assert_string_equal(argv[0], "vassal");
        assert_string_equal(argv[1], "/etc/apps.d/hello.ini");
        procname_set("vassal hello master", "hello master");
        assert_string_equal(mem, "vassal hello master");
        assert_string_equal(env, "EMPEROR_VASSAL=hello");
        procname_set("a title much longer than the twenty-nine bytes of room", NULL);
        assert_int_equal(strlen(mem), 28);
        assert_int_equal(env[-1], 0);
        assert_string_equal(env, "EMPEROR_VASSAL=hello");
        free(argv[0]); /* the block of the copies */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_automatic_names),
                cmocka_unit_test(test_disabled_gives_none),
                cmocka_unit_test(test_uwsgi_options_compose),
                cmocka_unit_test(test_title_stays_in_argv_area),
        };
        return cmocka_run_group_tests_name("procname", tests, NULL, NULL);
}
