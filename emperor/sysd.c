/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>

#include "log.h"
#include "macro.h"
#include "sysd.h"

#define BUS_TIMEOUT_USEC (2 * 1000000ULL)

static sd_bus *sysd_bus(void) {
        sd_bus *bus = NULL;
        /* systemd's own socket first (root, no dbus-daemon needed), then the system bus. */
        if (sd_bus_new(&bus) >= 0 && sd_bus_set_address(bus, "unix:path=/run/systemd/private") >= 0 &&
            sd_bus_start(bus) >= 0)
                return bus;
        bus = sd_bus_unref(bus);
        if (sd_bus_open_system(&bus) < 0)
                return NULL;
        return bus;
}

bool sysd_unit_restarting(void) {
        _cleanup_free_ char *unit = NULL, *unit_path = NULL, *type = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *job_path = NULL;
        uint32_t job_id = 0;
        bool restarting = false;

        if (!getenv("INVOCATION_ID") || sd_pid_get_unit(0, &unit) < 0)
                return false;
        sd_bus *bus = sysd_bus();
        if (!bus)
                return false;
        (void) sd_bus_set_method_call_timeout(bus, BUS_TIMEOUT_USEC);
        if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &unit_path) < 0)
                goto out;
        if (sd_bus_get_property(bus, "org.freedesktop.systemd1", unit_path,
                                "org.freedesktop.systemd1.Unit", "Job", &error, &reply,
                                "(uo)") < 0 ||
            sd_bus_message_read(reply, "(uo)", &job_id, &job_path) < 0 || job_id == 0)
                goto out;
        if (sd_bus_get_property_string(bus, "org.freedesktop.systemd1", job_path,
                                       "org.freedesktop.systemd1.Job", "JobType", &error,
                                       &type) < 0)
                goto out;
        restarting = streq(type, "restart") || streq(type, "try-restart");
        log_debug("unit %s: job %u is a %s", unit, job_id, type);
out:
        if (sd_bus_error_is_set(&error))
                log_debug("Cannot ask systemd about unit %s: %s", unit ? unit : "?", error.message);
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return restarting;
}
