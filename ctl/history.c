/* SPDX-License-Identifier: MIT */
/* emperorctl stats and events: read the stats store directly. (Being written.) */
#include "ctl.h"

int ctl_cmd_stats(const CtlInvocation *inv) {
        (void) inv;
        return ctl_err(CTL_EXIT_FAILED, "stats: not built yet");
}

int ctl_cmd_events(const CtlInvocation *inv) {
        (void) inv;
        return ctl_err(CTL_EXIT_FAILED, "events: not built yet");
}
