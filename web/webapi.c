/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "http.h"
#include "jsonutil.h"
#include "macro.h"
#include "proto.h"
#include "query.h"
#include "webapi.h"

struct WebApi {
        char *db_path;
        sqlite3 *db; /* opened on first use, again after a failure */
        bool lost;   /* closed after a failure: a process without privileges may not reopen */
};

WebApi *webapi_new(const char *db_path) {
        WebApi *a = calloc(1, sizeof(WebApi));
        if (!a)
                return NULL;
        a->db_path = strdup(db_path);
        if (!a->db_path) {
                free(a);
                return NULL;
        }
        return a;
}

WebApi *webapi_free(WebApi *a) {
        if (!a)
                return NULL;
        sqlite3_close_v2(a->db);
        free(a->db_path);
        free(a);
        return NULL;
}

static cJSON *error_body(const char *msg) {
        cJSON *j = cJSON_CreateObject();
        if (j && !cJSON_AddStringToObject(j, "error", msg)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* The value of key in a query string, percent-decoded into buf; NULL when absent. */
static const char *query_param(const char *q, size_t len, const char *key, char *buf, size_t size) {
        size_t klen = strlen(key);
        const char *end = q + len;

        while (q < end) {
                const char *amp = memchr(q, '&', (size_t) (end - q));
                const char *part_end = amp ? amp : end;
                if ((size_t) (part_end - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
                        const char *v = q + klen + 1;
                        size_t n = (size_t) (part_end - v);
                        if (n >= size)
                                n = size - 1;
                        n = http_percent_decode(buf, v, n);
                        buf[n] = 0;
                        return buf;
                }
                q = part_end + 1;
        }
        return NULL;
}

static int add_to(cJSON *list, cJSON *o) {
        if (!o)
                return -ENOMEM;
        cJSON_AddItemToArray(list, o);
        return 0;
}

static int sample_json(const QueryRow *r, void *userdata) {
        return add_to(userdata, query_row_json(r));
}

static int event_json(const QueryEvent *e, void *userdata) {
        return add_to(userdata, query_event_json(e));
}

static int answer_error(int r, const char *error, int *ret_status, cJSON **ret_body) {
        *ret_status = r == -ENOENT ? 404 : r == -E2BIG || r == -EINVAL ? 400 : r == -ENOMEM ? 500 : 503;
        *ret_body = error_body(r == -ENOMEM ? "out of memory" : error);
        return 0;
}

static bool webapi_db(WebApi *a, int *ret_status, cJSON **ret_body) {
        char error[512];
        if (a->db)
                return true;
        int r = query_open(a->db_path, &a->db, error, sizeof(error));
        if (r < 0) {
                *ret_status = 503;
                *ret_body = error_body(error);
                return false;
        }
        return true;
}

int webapi_open(WebApi *a, char *error, size_t error_size) {
        if (a->db)
                return 0;
        return query_open(a->db_path, &a->db, error, error_size);
}

bool webapi_lost(const WebApi *a) {
        return a->lost;
}

bool webapi_route(WebApi *a, const char *path, const char *query, size_t query_len,
                  int *ret_status, cJSON **ret_body) {
        char name[129], since_buf[64], every_buf[64], vassal_buf[129];
        const char *vassal = NULL, *rest;
        bool history = false;
        int64_t now = (int64_t) time(NULL), since, every = 0;
        char error[512] = "";
        int r;

        if (streq(path, "/api/events") || streq(path, "/api/events/")) {
                vassal = query_param(query, query_len, "vassal", vassal_buf, sizeof(vassal_buf));
        } else if (strncmp(path, "/api/vassals/", 13) == 0 && (rest = strchr(path + 13, '/'))) {
                size_t n = (size_t) (rest - (path + 13));
                if (streq(rest, "/history"))
                        history = true;
                else if (!streq(rest, "/events"))
                        return false;
                if (n == 0 || n >= sizeof(name))
                        return false;
                memcpy(name, path + 13, n);
                name[n] = 0;
                vassal = name;
        } else
                return false;

        *ret_body = NULL;
        if (vassal && !proto_name_valid(vassal)) {
                *ret_status = 400;
                *ret_body = error_body("invalid vassal name");
                return true;
        }
        const char *s = query_param(query, query_len, "since", since_buf, sizeof(since_buf));
        if (query_parse_since(s ? s : history ? "1h" : "24h", now, &since) < 0 || since >= now) {
                *ret_status = 400;
                *ret_body = error_body("invalid since (a span like 15m, 1h, 30d, or a time like "
                                       "2026-11-30T10:00)");
                return true;
        }
        const char *e = query_param(query, query_len, "every", every_buf, sizeof(every_buf));
        if (e && (!history || duration_parse(e, &every) < 0)) {
                *ret_status = 400;
                *ret_body = error_body(history ? "invalid every (a span like 10s, 1m, 1h)"
                                               : "every is for history");
                return true;
        }
        if (!webapi_db(a, ret_status, ret_body))
                return true;

        _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject();
        cJSON *list = body ? cJSON_AddArrayToObject(body, history ? "samples" : "events") : NULL;
        if (!list) {
                *ret_status = 500;
                return true;
        }
        if (history) {
                if (!every)
                        every = query_default_every(now + 1 - since);
                cJSON_AddStringToObject(body, "vassal", vassal);
                cJSON_AddNumberToObject(body, "since", (double) since);
                cJSON_AddNumberToObject(body, "until", (double) now + 1);
                cJSON_AddNumberToObject(body, "every", (double) every);
                r = query_samples(a->db, vassal, since, now + 1, every, sample_json, list, error,
                                  sizeof(error));
        } else
                r = query_events(a->db, vassal, since, now + 1, event_json, list, error,
                                 sizeof(error));
        if (r == -EIO) {
                /* Reopen next time: the file may have been moved aside and started over. */
                sqlite3_close_v2(a->db);
                a->db = NULL;
                a->lost = true;
        }
        if (r < 0) {
                answer_error(r, error, ret_status, ret_body);
                return true;
        }
        *ret_status = 200;
        *ret_body = TAKE_PTR(body);
        return true;
}
