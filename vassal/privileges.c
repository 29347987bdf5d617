/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "privileges.h"

static char error_message[512];

const char *privileges_error(void) {
        return error_message[0] ? error_message : NULL;
}

/* Keeps the message for privileges_error(); the caller reports it. */
_printf_(1, 2) static int privileges_fail(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(error_message, sizeof(error_message), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

int privileges_drop(const char *uid, const char *gid) {
        Credentials c = {};
        char what[256];
        int r, pdeath = 0;

        if (!uid && !gid)
                return 0;
        r = credentials_resolve(uid, gid, &c, error_message, sizeof(error_message));
        if (r < 0)
                goto finish;
        (void) snprintf(what, sizeof(what), "%s%s%s%s%s", uid ? "uid = " : "", strempty(uid),
                        uid && gid ? ", " : "", gid ? "gid = " : "", strempty(gid));

        if (geteuid() != 0) {
                /* Nothing to switch, nothing to refuse when we already are them (the group is
                 * compared only when it was asked for). */
                bool same = (!c.set_uid || (c.uid == getuid() && c.uid == geteuid())) &&
                            (!gid || (c.gid == getgid() && c.gid == getegid()));
                r = same ? 0 : privileges_fail("%s: cannot switch: the vassal runs as uid %u "
                                               "gid %u, not as root", what, (unsigned) getuid(),
                                               (unsigned) getgid());
                goto finish;
        }

        /* A credential change clears the parent-death signal the emperor set for us: keep it. */
        pid_t parent = getppid();
        (void) prctl(PR_GET_PDEATHSIG, &pdeath);

        r = c.set_uid && c.user ? initgroups(c.user, c.gid) : setgroups(1, &c.gid);
        if (r < 0) {
                r = privileges_fail("%s: cannot set the supplementary groups: %s", what,
                                    strerror(errno));
                goto finish;
        }
        if (setresgid(c.gid, c.gid, c.gid) < 0) {
                r = privileges_fail("%s: cannot become gid %u: %s", what, (unsigned) c.gid,
                                    strerror(errno));
                goto finish;
        }
        if (c.set_uid && setresuid(c.uid, c.uid, c.uid) < 0) {
                r = privileges_fail("%s: cannot become uid %u: %s", what, (unsigned) c.uid,
                                    strerror(errno));
                goto finish;
        }
        /* Paranoia (a kernel or LSM that half-applied the change): root must be out of reach. */
        if (c.set_uid && c.uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
                r = privileges_fail("%s: still able to become root after the switch", what);
                goto finish;
        }
        if (pdeath > 0) {
                (void) prctl(PR_SET_PDEATHSIG, pdeath);
                /* The parent died while the signal was off: deliver it ourselves (blocked, so
                 * the master's signalfd reads it like any other). */
                if (getppid() != parent)
                        (void) kill(getpid(), pdeath);
        }
        log_info("running as uid %u%s%s%s, gid %u", (unsigned) geteuid(), c.user ? " (" : "",
                 strempty(c.user), c.user ? ")" : "", (unsigned) getegid());
        r = 0;
finish:
        credentials_done(&c);
        /* -EINVAL: a bad uid/gid (EX_CONFIG); another -errno: the user database could not be
         * read, which may pass (EXIT_RUNTIME, respawned). Both have their message. */
        if (r == -ENOMEM)
                (void) log_oom();
        else if (r < 0)
                log_error("%s", error_message);
        return r;
}
