/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "macro.h"
#include "status.h"
#include "store.h"

static void status_add_string(cJSON *o, const char *key, const char *value) {
        if (value)
                cJSON_AddStringToObject(o, key, value);
        else
                cJSON_AddNullToObject(o, key);
}

cJSON *status_json(const Instance *i, bool detail) {
        cJSON *o = cJSON_CreateObject();
        pid_t pid = instance_pid(i, NULL);

        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "name", instance_name(i));
        cJSON_AddStringToObject(o, "state", instance_state_to_string(instance_state(i)));
        /* What the vassal itself says it is doing (its own reload, its own stop): null when
         * nothing. */
        if (instance_phase(i))
                cJSON_AddStringToObject(o, "phase", instance_phase(i));
        else
                cJSON_AddNullToObject(o, "phase");
        if (pid > 0) {
                cJSON_AddNumberToObject(o, "pid", pid);
                cJSON_AddNumberToObject(o, "uptime", instance_uptime(i));
        } else {
                cJSON_AddNullToObject(o, "pid");
                cJSON_AddNullToObject(o, "uptime");
        }
        cJSON_AddNumberToObject(o, "restarts", instance_restarts(i));

        const VassalStats *vs = instance_stats(i);
        if (vs) {
                cJSON *wo = cJSON_AddObjectToObject(o, "workers");
                cJSON_AddNumberToObject(wo, "busy", vs->busy);
                cJSON_AddNumberToObject(wo, "total", vs->total);
                cJSON_AddNumberToObject(o, "requests", (double) vs->requests);
        } else {
                cJSON_AddNullToObject(o, "workers");
                cJSON_AddNullToObject(o, "requests");
        }
        /* The live numbers of the vassal's last report, as the store reads them (sample.c);
         * null when there is no report or the vassal does not measure one (NaN). stats_age
         * is how old the report is: `emperorctl top` takes rates over the vassals' report
         * times, not over its own polls, which a report interval longer than the poll
         * would turn into alternating zeros and doubles. */
        StoreSample sample = {};
        bool live = vs;
        if (vs)
                store_sample_from_vstats(vs, &sample);
        const struct {
                const char *key;
                double value;
        } numbers[] = {
                { "errors", (double) sample.errors },
                { "avg_rt_ms", sample.avg_rt_ms },
                { "p99_rt_ms", sample.p99_rt_ms },
                { "rss", (double) sample.rss },
                { "cpu", sample.cpu },
                { "listen_queue", (double) sample.listen_queue },
                { "exceptions", vs ? (double) vs->exceptions : NAN },
                { "cpu_time", vs ? vs->cpu_time_s : NAN },
                { "stats_age", instance_stats_age(i) },
        };
        for (size_t k = 0; k < ELEMENTSOF(numbers); k++)
                if (live && isfinite(numbers[k].value))
                        cJSON_AddNumberToObject(o, numbers[k].key, numbers[k].value);
                else
                        cJSON_AddNullToObject(o, numbers[k].key);
        status_add_string(o, "last_exit", instance_last_exit(i));
        status_add_string(o, "last_error", instance_last_error(i));
        status_add_string(o, "warnings", instance_warnings(i));
        double backoff = instance_backoff_left(i);
        if (!isnan(backoff))
                cJSON_AddNumberToObject(o, "backoff", backoff);
        if (!detail)
                return o;

        cJSON_AddStringToObject(o, "ini", instance_path(i));
        if (vs && vs->log_path)
                cJSON_AddStringToObject(o, "log", vs->log_path);
        cJSON *socks = cJSON_AddArrayToObject(o, "sockets");
        for (size_t k = 0; instance_socket(i, k); k++)
                cJSON_AddItemToArray(socks, cJSON_CreateString(instance_socket(i, k)));
        cJSON *pids = cJSON_AddArrayToObject(o, "worker_pids");
        for (unsigned k = 0; vs && k < vs->total; k++)
                cJSON_AddItemToArray(pids, cJSON_CreateNumber(vs->worker_pids[k]));
        cJSON_AddNumberToObject(o, "uid", instance_run_uid(i));
        cJSON_AddNumberToObject(o, "owner", instance_owner(i)); /* of the ini: --tyrant */
        if (instance_status(i))
                cJSON_AddStringToObject(o, "status", instance_status(i));
        /* The response-time histogram as the vassal sent it: emperor-web's /metrics checks it. */
        if (vs && vs->n_hist > 0) {
                cJSON *h = cJSON_AddObjectToObject(o, "rt_hist");
                cJSON_AddItemToObject(h, "le_us", cJSON_CreateDoubleArray(vs->hist_le_us,
                                                                          (int) vs->n_hist));
                cJSON_AddItemToObject(h, "counts", cJSON_CreateDoubleArray(vs->hist_counts,
                                                                           (int) vs->n_hist));
                cJSON_AddNumberToObject(h, "count", vs->hist_count);
                cJSON_AddNumberToObject(h, "sum_us", vs->hist_sum_us);
        }
        return o;
}
