/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "users.h"

/* A uid no database has: high, and checked. */
static uid_t unused_uid(void) {
        for (uid_t u = 3999999000U; u < 3999999100U; u++)
                if (!getpwuid(u))
                        return u;
        fail_msg("no unused uid found");
        return 0;
}

static void test_root_by_name_and_by_number(void **state) {
        uid_t uid = 1;
        gid_t gid = 1;
        char *name = NULL;
        (void) state;

        assert_int_equal(user_resolve("root", &uid, &gid, &name), 0);
        assert_int_equal(uid, 0);
        assert_int_equal(gid, 0);
        assert_string_equal(name, "root");
        free(name);
        assert_int_equal(user_resolve("0", &uid, &gid, &name), 0);
        assert_int_equal(uid, 0);
        assert_string_equal(name, "root");
        free(name);
        assert_int_equal(group_resolve("root", &gid), 0);
        assert_int_equal(gid, 0);
        assert_int_equal(group_resolve("4242", &gid), 0);
        assert_int_equal(gid, 4242);
}

static void test_unknown_and_malformed(void **state) {
        uid_t uid;
        gid_t gid;
        char *name = (char *) "untouched";
        char num[32];
        (void) state;

        assert_int_equal(user_resolve("no-such-user-here", &uid, &gid, NULL), -ESRCH);
        assert_int_equal(group_resolve("no-such-group-here", &gid), -ESRCH);
        assert_int_equal(user_resolve("", &uid, &gid, NULL), -EINVAL);
        assert_int_equal(user_resolve("99999999999999999999", &uid, &gid, NULL), -EINVAL);
        assert_int_equal(group_resolve("4294967295", &gid), -EINVAL);
        /* A number without an entry is still a uid, with no group and no name. */
        snprintf(num, sizeof(num), "%u", (unsigned) unused_uid());
        assert_int_equal(user_resolve(num, &uid, &gid, &name), 0);
        assert_int_equal(uid, unused_uid());
        assert_int_equal(gid, (gid_t) -1);
        assert_null(name);
}

static void test_credentials_messages(void **state) {
        Credentials c;
        char error[256], num[32];
        (void) state;

        assert_int_equal(credentials_resolve("no-such-user-here", NULL, &c, error, sizeof(error)),
                         -EINVAL);
        assert_string_equal(error, "uid = no-such-user-here: no such user");
        assert_int_equal(credentials_resolve("root", "no-such-group-here", &c, error,
                                             sizeof(error)), -EINVAL);
        assert_string_equal(error, "gid = no-such-group-here: no such group");
        snprintf(num, sizeof(num), "%u", (unsigned) unused_uid());
        assert_int_equal(credentials_resolve(num, NULL, &c, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, "so no group to run as: set 'gid' too"));

        /* The user's primary group by default; gid wins. */
        assert_int_equal(credentials_resolve("root", NULL, &c, error, sizeof(error)), 0);
        assert_true(c.set_uid && c.set_gid);
        assert_int_equal(c.gid, 0);
        assert_string_equal(c.user, "root");
        credentials_done(&c);
        assert_int_equal(credentials_resolve(num, "77", &c, error, sizeof(error)), 0);
        assert_int_equal(c.gid, 77);
        assert_null(c.user);
        credentials_done(&c);
        assert_int_equal(credentials_resolve(NULL, "root", &c, error, sizeof(error)), 0);
        assert_false(c.set_uid);
        assert_true(c.set_gid);
        credentials_done(&c);
}

static void test_owner(void **state) {
        uid_t uid;
        gid_t gid;
        (void) state;

        assert_int_equal(owner_resolve("root", &uid, &gid), 0);
        assert_int_equal(uid, 0);
        assert_int_equal(gid, 0);
        assert_int_equal(owner_resolve(":root", &uid, &gid), 0);
        assert_int_equal(uid, (uid_t) -1);
        assert_int_equal(gid, 0);
        assert_int_equal(owner_resolve("", &uid, &gid), 0);
        assert_int_equal(uid, (uid_t) -1);
        assert_int_equal(gid, (gid_t) -1);
        assert_int_equal(owner_resolve("no-such-user-here:root", &uid, &gid), -ENOENT);
        assert_int_equal(owner_resolve("root:no-such-group-here", &uid, &gid), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_root_by_name_and_by_number),
                cmocka_unit_test(test_unknown_and_malformed),
                cmocka_unit_test(test_credentials_messages),
                cmocka_unit_test(test_owner),
        };
        return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}
