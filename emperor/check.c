/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops.h"

struct Check {
        Manager *m;
        PidOwner owner;
        ManagerChild *child;
        CheckDoneFn done;
        void *userdata;
};

Check *check_free(Check *c) {
        if (!c)
                return NULL;
        manager_pid_remove(c->m, &c->owner);
        manager_ops(c->m)->release(c->m, c->child);
        free(c);
        return NULL;
}

/* The done callback may free c: nothing of it is touched after. */
static void check_on_exit(void *userdata, const siginfo_t *si, const char *output) {
        Check *c = userdata;
        int status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        char message[OPS_OUTPUT_MAX];

        snprintf(message, sizeof(message), "%s", output ?: "");
        size_t l = strlen(message);
        while (l > 0 && (message[l - 1] == '\n' || message[l - 1] == ' '))
                message[--l] = 0;
        if (l == 0)
                snprintf(message, sizeof(message), "vassal --check exited with status %d",
                         status);
        c->done(c->userdata, status == 0, message);
}

int check_start(Manager *m, Instance *inst, const char *ini, CheckDoneFn done, void *userdata,
                Check **ret) {
        char *argv[] = { (char *) "vassal", (char *) "--check", (char *) ini, NULL };
        SpawnOptions o = {
                .path = manager_vassal_path(m),
                .argv = argv,
                .stdout_fd = -1,
        };
        pid_t pid;
        int exec_errno, r;

        Check *c = calloc(1, sizeof(Check));
        if (!c)
                return -ENOMEM;
        c->m = m;
        c->done = done;
        c->userdata = userdata;
        r = manager_ops(m)->spawn(m, &o, true, check_on_exit, c, &pid, &exec_errno, &c->child);
        if (r < 0) {
                free(c);
                return r;
        }
        /* A failed exec is the check's failure: it exits 127, which done reports. */
        c->owner = (PidOwner) { pid, inst };
        r = manager_pid_add(m, &c->owner);
        if (r < 0) {
                /* Unindexed, the reaper would take it for an orphan: kill it now. */
                manager_ops(m)->signal(m, c->child, SIGKILL);
                check_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void check_kill(Check *c) {
        manager_ops(c->m)->signal(c->m, c->child, SIGKILL);
}
