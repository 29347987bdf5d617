/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "proto.h"

static int parse(const char *line, ProtoRequest *req, const char **code, char *error) {
        return proto_request_parse(line, req, code, error, 256);
}

static void test_status_without_a_vassal_is_valid(void **state) {
        ProtoRequest req;
        const char *code = NULL;
        char error[256];
        (void) state;
        assert_int_equal(parse("{\"v\":1,\"cmd\":\"status\"}", &req, &code, error), 0);
        assert_string_equal(req.command->name, "status");
        assert_string_equal(req.vassal, "");
        assert_false(req.all);
}

static void test_stop_names_its_vassal(void **state) {
        ProtoRequest req;
        const char *code = NULL;
        char error[256];
        (void) state;
        assert_int_equal(parse("{\"v\":1,\"cmd\":\"stop\",\"vassal\":\"hello\"}", &req, &code,
                               error), 0);
        assert_string_equal(req.command->name, "stop");
        assert_string_equal(req.vassal, "hello");
}

static void test_reload_all_is_valid_but_not_with_a_name(void **state) {
        ProtoRequest req;
        const char *code = NULL;
        char error[256];
        (void) state;
        assert_int_equal(parse("{\"cmd\":\"reload\",\"all\":true}", &req, &code, error), 0);
        assert_true(req.all);
        assert_int_equal(parse("{\"cmd\":\"reload\",\"all\":true,\"vassal\":\"x\"}", &req, &code,
                               error), -EINVAL);
        assert_string_equal(code, PROTO_E_USAGE);
        assert_string_equal(error, "usage: reload APP|--all");
}

/* "wait": only for what acts on vassals; "rescan" takes no vassal. */
static void test_wait_is_for_vassal_actions(void **state) {
        ProtoRequest req;
        const char *code = NULL;
        char error[256];
        (void) state;
        assert_int_equal(parse("{\"cmd\":\"reload\",\"vassal\":\"a\",\"wait\":true}", &req,
                               &code, error), 0);
        assert_true(req.wait);
        assert_int_equal(parse("{\"cmd\":\"stop\",\"vassal\":\"a\",\"wait\":false}", &req,
                               &code, error), 0);
        assert_false(req.wait);
        assert_int_equal(parse("{\"cmd\":\"reload\",\"all\":true,\"wait\":true}", &req, &code,
                               error), 0);
        assert_true(req.wait && req.all);
        assert_int_equal(parse("{\"cmd\":\"rescan\"}", &req, &code, error), 0);
        assert_string_equal(req.command->name, "rescan");
}

static void test_bad_requests_get_their_codes(void **state) {
        static const struct {
                const char *line, *code, *error;
        } cases[] = {
                { "not json", PROTO_E_BAD_REQUEST, "the request is not a JSON object" },
                { "[1]", PROTO_E_BAD_REQUEST, "the request is not a JSON object" },
                { "{\"v\":2,\"cmd\":\"status\"}", PROTO_E_BAD_REQUEST, "unsupported protocol version" },
                { "{\"v\":1}", PROTO_E_BAD_REQUEST, "missing \"cmd\"" },
                { "{\"cmd\":7}", PROTO_E_BAD_REQUEST, "missing \"cmd\"" },
                { "{\"cmd\":\"fly\"}", PROTO_E_USAGE, "unknown command 'fly'" },
                { "{\"cmd\":\"stop\"}", PROTO_E_USAGE, "usage: stop APP" },
                { "{\"cmd\":\"stop\",\"vassal\":1}", PROTO_E_BAD_REQUEST, "\"vassal\" must be a string" },
                { "{\"cmd\":\"status\",\"all\":\"yes\"}", PROTO_E_BAD_REQUEST, "\"all\" must be true or false" },
                { "{\"cmd\":\"status\",\"all\":true}", PROTO_E_USAGE, "usage: status [APP]" },
                { "{\"cmd\":\"stop\",\"vassal\":\"a\",\"wait\":1}", PROTO_E_BAD_REQUEST,
                  "\"wait\" must be true or false" },
                { "{\"cmd\":\"status\",\"wait\":true}", PROTO_E_USAGE, "'status' does not take wait" },
                { "{\"cmd\":\"upgrade\",\"wait\":true}", PROTO_E_USAGE,
                  "'upgrade' does not take wait" },
                { "{\"cmd\":\"rescan\",\"vassal\":\"a\"}", PROTO_E_USAGE, "usage: rescan" },
                /* "a\u0000b" would be vassal "a" to every C string after the parse. */
                { "{\"cmd\":\"stop\",\"vassal\":\"a\\u0000b\"}", PROTO_E_BAD_REQUEST,
                  "a NUL character (\\u0000) in the request" },
        };
        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ProtoRequest req;
                const char *code = NULL;
                char error[256];
                assert_int_equal(parse(cases[i].line, &req, &code, error), -EINVAL);
                assert_string_equal(code, cases[i].code);
                assert_string_equal(error, cases[i].error);
        }
}

static void test_names_are_file_names(void **state) {
        (void) state;
        assert_true(proto_name_valid("hello"));
        assert_true(proto_name_valid("my-app_2.staging@eu"));
        assert_false(proto_name_valid(""));
        assert_false(proto_name_valid(".hidden"));
        assert_false(proto_name_valid("../etc"));
        assert_false(proto_name_valid("a/b"));
        assert_false(proto_name_valid("sp ace"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_without_a_vassal_is_valid),
                cmocka_unit_test(test_stop_names_its_vassal),
                cmocka_unit_test(test_reload_all_is_valid_but_not_with_a_name),
                cmocka_unit_test(test_wait_is_for_vassal_actions),
                cmocka_unit_test(test_bad_requests_get_their_codes),
                cmocka_unit_test(test_names_are_file_names),
        };
        return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
