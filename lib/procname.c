/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "procname.h"

/* The original argv strings' bytes: [area, area + area_size). */
static char *area;
static size_t area_size;

int procname_init(int argc, char **argv) {
        size_t size, total = 0;
        char *copy;

        if (argc <= 0 || !argv || !argv[0])
                return 0;
        /* The room: argv[0] and the arguments right after it, each where the previous one
         * ended (the kernel lays them out so; stop at anything else). */
        size = strlen(argv[0]) + 1;
        for (int i = 1; i < argc && argv[i] == argv[0] + size; i++)
                size += strlen(argv[i]) + 1;
        for (int i = 0; i < argc; i++)
                total += strlen(argv[i]) + 1;
        /* One block for every copy; it lives as long as the process, as argv's strings do. */
        copy = malloc(total);
        if (!copy)
                return -ENOMEM;
        area = argv[0];
        area_size = size;
        for (int i = 0; i < argc; i++) {
                size_t n = strlen(argv[i]) + 1;
                memcpy(copy, argv[i], n);
                argv[i] = copy;
                copy += n;
        }
        return 0;
}

void procname_set(const char *title, const char *comm) {
        (void) prctl(PR_SET_NAME, comm ? comm : title, 0, 0, 0);
        if (!area || area_size < 2)
                return;
        size_t n = strnlen(title, area_size - 1);
        memcpy(area, title, n);
        /* The rest NUL: `ps` shows one word per NUL-separated string, and no old argument
         * may show through after the title. */
        memset(area + n, 0, area_size - n);
}

bool procname_format(const ProcnameOptions *o, int worker_id, char *buf, size_t size) {
        char base[256];
        const char *b = worker_id == 0 && o->master ? o->master : o->procname;

        if (size > 0)
                buf[0] = 0;
        if (!o->enabled || size == 0)
                return false;
        if (!b) {
                if (worker_id == 0)
                        snprintf(base, sizeof(base), "vassal%s%s master", o->name ? " " : "",
                                 o->name ? o->name : "");
                else
                        snprintf(base, sizeof(base), "vassal%s%s worker %d", o->name ? " " : "",
                                 o->name ? o->name : "", worker_id);
                b = base;
        }
        snprintf(buf, size, "%s%s%s%s%s", o->prefix ? o->prefix : "",
                 o->prefix_spaced ? o->prefix_spaced : "", o->prefix_spaced ? " " : "", b,
                 o->append ? o->append : "");
        return true;
}
