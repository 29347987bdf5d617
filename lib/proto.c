/* SPDX-License-Identifier: MIT */
#include <cJSON.h>
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "jsonutil.h"
#include "proto.h"

static const ProtoCommand commands[] = {
        { "status", "status [APP]", "show every vassal, or one in detail",
          PROTO_TARGET_OPTIONAL, false },
        { "reload", "reload APP|--all", "start a new vassal on the same sockets, then stop the old",
          PROTO_TARGET_ONE_OR_ALL, true },
        { "chain-reload", "chain-reload APP",
          "reload the vassal's workers one at a time, each once the previous new one accepts",
          PROTO_TARGET_ONE, true },
        { "restart", "restart APP", "stop the vassal, then start it again", PROTO_TARGET_ONE,
          true },
        { "stop", "stop APP", "stop the vassal; it stays stopped until start or an ini change",
          PROTO_TARGET_ONE, true },
        { "start", "start APP", "start a stopped, failed or backing-off vassal now",
          PROTO_TARGET_ONE, true },
        { "rescan", "rescan",
          "scan the conf dir now (as SIGHUP, `systemctl reload emperor`): start new inis, "
          "reload changed ones, stop removed ones",
          PROTO_TARGET_NONE, true },
        { "upgrade", "upgrade",
          "re-execute the emperor's binary from disk; every vassal keeps running and is adopted",
          PROTO_TARGET_NONE, true },
};

const ProtoCommand *proto_command_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

const ProtoCommand *proto_commands(size_t *ret_n) {
        *ret_n = ELEMENTSOF(commands);
        return commands;
}

bool proto_name_valid(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > 128 || name[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-' || c == '@'))
                        return false;
        }
        return true;
}

static int fail(const char **ret_code, const char *code, char *error, size_t size,
                const char *fmt, const char *arg) {
        *ret_code = code;
        snprintf(error, size, fmt, arg);
        return -EINVAL;
}

int proto_request_parse(const char *line, ProtoRequest *ret, const char **ret_code, char *error,
                        size_t error_size) {
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_Parse(line);

        *ret = (ProtoRequest) {};
        /* "\u0000" decodes to a NUL that C strings end at: "a\u0000b" would name vassal "a".
         * No name or command holds one; refused before anything reads the request. */
        if (strcasestr(line, "\\u0000"))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "a NUL character (\\u0000) in the request%s", "");
        if (!cJSON_IsObject(req))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "the request is not a JSON object%s", "");
        const cJSON *jv = cJSON_GetObjectItemCaseSensitive(req, "v");
        const cJSON *jcmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
        const cJSON *jname = cJSON_GetObjectItemCaseSensitive(req, "vassal");
        const cJSON *jall = cJSON_GetObjectItemCaseSensitive(req, "all");
        const cJSON *jdetail = cJSON_GetObjectItemCaseSensitive(req, "detail");
        const cJSON *jwait = cJSON_GetObjectItemCaseSensitive(req, "wait");
        if (jv && (!cJSON_IsNumber(jv) || jv->valuedouble != PROTO_VERSION))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "unsupported protocol version%s", "");
        if (!cJSON_IsString(jcmd))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "missing \"cmd\"%s", "");
        const ProtoCommand *pc = proto_command_find(jcmd->valuestring);
        if (!pc)
                return fail(ret_code, PROTO_E_USAGE, error, error_size, "unknown command '%.64s'",
                            jcmd->valuestring);
        if (jname && !cJSON_IsString(jname))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "\"vassal\" must be a string%s", "");
        if (jall && !cJSON_IsBool(jall))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "\"all\" must be true or false%s", "");
        if (jdetail && !cJSON_IsBool(jdetail))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "\"detail\" must be true or false%s", "");
        if (jwait && !cJSON_IsBool(jwait))
                return fail(ret_code, PROTO_E_BAD_REQUEST, error, error_size,
                            "\"wait\" must be true or false%s", "");
        /* Only what acts on vassals has an end to wait for. */
        if (cJSON_IsTrue(jwait) && (!pc->mutating || pc->target == PROTO_TARGET_NONE))
                return fail(ret_code, PROTO_E_USAGE, error, error_size,
                            "'%s' does not take wait", pc->name);
        bool all = cJSON_IsTrue(jall);
        const char *name = jname ? jname->valuestring : NULL;

        bool ok = true;
        switch (pc->target) {
        case PROTO_TARGET_NONE:
                ok = !name && !all;
                break;
        case PROTO_TARGET_OPTIONAL:
                ok = !all;
                break;
        case PROTO_TARGET_ONE:
                ok = name && !all;
                break;
        case PROTO_TARGET_ONE_OR_ALL:
                ok = !name != !all;
                break;
        }
        if (!ok)
                return fail(ret_code, PROTO_E_USAGE, error, error_size, "usage: %s", pc->usage);
        ret->command = pc;
        ret->all = all;
        ret->detail = cJSON_IsTrue(jdetail);
        ret->wait = cJSON_IsTrue(jwait);
        if (name)
                snprintf(ret->vassal, sizeof(ret->vassal), "%s", name);
        return 0;
}
