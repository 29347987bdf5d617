/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the control protocol's request parser (lib/proto.c): whatever a
 * client sends, the parser returns a valid request or an error code and message, never
 * crashes, leaks or reads out of bounds. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
        char *line = malloc(size + 1);
        ProtoRequest req;
        const char *code = NULL;
        char error[256];

        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = 0;
        int r = proto_request_parse(line, &req, &code, error, sizeof(error));
        if (r == 0) {
                assert(req.command);
                assert(strlen(req.vassal) < sizeof(req.vassal));
                assert(!(req.all && req.vassal[0]));
        } else {
                assert(code && error[0]);
                assert(strlen(error) < sizeof(error));
        }
        free(line);
        return 0;
}
