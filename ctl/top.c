/* SPDX-License-Identifier: MIT */
/* emperorctl top. (Being written.) */
#include "ctl.h"

int ctl_cmd_top(const CtlInvocation *inv) {
        (void) inv;
        return ctl_err(CTL_EXIT_FAILED, "top: not built yet");
}
