/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "macro.h"
#include "proto.h"

static const ProtoCommand commands[] = {
        { "status", "status [APP]", "show every vassal, or one in detail",
          PROTO_TARGET_OPTIONAL, false },
        { "reload", "reload APP|--all", "start a new vassal on the same sockets, then stop the old",
          PROTO_TARGET_ONE_OR_ALL, true },
        { "restart", "restart APP", "stop the vassal, then start it again", PROTO_TARGET_ONE,
          true },
        { "stop", "stop APP", "stop the vassal; it stays stopped until start or an ini change",
          PROTO_TARGET_ONE, true },
        { "start", "start APP", "start a stopped, failed or backing-off vassal now",
          PROTO_TARGET_ONE, true },
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
