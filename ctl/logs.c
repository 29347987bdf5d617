/* SPDX-License-Identifier: MIT */
/* emperorctl logs. (Being written.) */
#include "ctl.h"

int ctl_cmd_logs(const CtlInvocation *inv) {
        (void) inv;
        return ctl_err(CTL_EXIT_FAILED, "logs: not built yet");
}
