/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "macro.h"
#include "proto.h"

/* A member of an object; NULL when o is not an object or has no such member. */
static const cJSON *field(const cJSON *o, const char *name) {
        if (!cJSON_IsObject(o))
                return NULL;
        return cJSON_GetObjectItemCaseSensitive(o, name);
}

static bool number_of(const cJSON *j, double *ret) {
        /* The NULL checks are cJSON's too; they are here for the analyzer, which cannot see
         * into cJSON_Is*(). */
        if (!j || !cJSON_IsNumber(j) || !isfinite(j->valuedouble))
                return false;
        *ret = j->valuedouble;
        return true;
}

/* A string member, or NULL when missing, null or not a string. */
static const char *string_of(const cJSON *j) {
        return j && cJSON_IsString(j) && j->valuestring ? j->valuestring : NULL;
}

/* An integer as the daemon meant it ("%.0f" of the value rounded toward zero: cJSON's
 * numbers are doubles), or "-". */
static char *format_integer(const cJSON *j, char *buf, size_t size) {
        double d;

        if (!number_of(j, &d))
                (void) snprintf(buf, size, "-");
        else
                (void) snprintf(buf, size, "%.0f", trunc(d) + 0.0); /* + 0.0: no "-0" */
        return buf;
}

char *format_duration(double seconds, char *buf, size_t size) {
        if (!isfinite(seconds) || seconds < 0 || seconds >= 1e15) {
                (void) snprintf(buf, size, "-");
                return buf;
        }
        unsigned long long s = (unsigned long long) seconds;
        if (s < 60)
                (void) snprintf(buf, size, "%llus", s);
        else if (s < 3600)
                (void) snprintf(buf, size, "%llum%02llus", s / 60, s % 60);
        else if (s < 86400)
                (void) snprintf(buf, size, "%lluh%02llum", s / 3600, s % 3600 / 60);
        else
                (void) snprintf(buf, size, "%llud%02lluh", s / 86400, s % 86400 / 3600);
        return buf;
}

int format_reply_exit(const cJSON *reply, const char **ret_error) {
        const cJSON *ok = field(reply, "ok");

        if (!cJSON_IsObject(reply)) {
                *ret_error = "malformed reply from the emperor: not a JSON object";
                return CTL_EXIT_FAILED;
        }
        if (!cJSON_IsBool(ok)) {
                *ret_error = "malformed reply from the emperor: no boolean \"ok\"";
                return CTL_EXIT_FAILED;
        }
        if (cJSON_IsTrue(ok))
                return CTL_EXIT_OK;

        const char *code = string_of(field(reply, "code"));
        const char *error = string_of(field(reply, "error"));
        if (error && error[0])
                *ret_error = error;
        else if (code && code[0])
                *ret_error = code;
        else
                *ret_error = "the command failed (the emperor gave no reason)";
        if (!code)
                return CTL_EXIT_FAILED;
        if (streq(code, PROTO_E_NO_SUCH_VASSAL))
                return CTL_EXIT_NO_SUCH_VASSAL;
        if (streq(code, PROTO_E_USAGE) || streq(code, PROTO_E_BAD_REQUEST) ||
            streq(code, PROTO_E_TOO_LARGE))
                return CTL_EXIT_USAGE;
        return CTL_EXIT_FAILED; /* PROTO_E_PERMISSION, PROTO_E_FAILED, and codes to come */
}

char *format_state(const cJSON *vassal, char *buf, size_t size) {
        const char *state = string_of(field(vassal, "state"));
        double backoff;
        char d[32];

        if (!state || !state[0])
                (void) snprintf(buf, size, "-");
        else if (streq(state, "crash-loop") && number_of(field(vassal, "backoff"), &backoff))
                /* Rounded up: "retry in 0s" would read as "now" while it is not. */
                (void) snprintf(buf, size, "%s (retry in %s)", state,
                                format_duration(ceil(backoff), d, sizeof(d)));
        else if (string_of(field(vassal, "phase")))
                /* The vassal's own doing: "running (reloading)" while it reloads itself. */
                (void) snprintf(buf, size, "%s (%s)", state, string_of(field(vassal, "phase")));
        else
                (void) snprintf(buf, size, "%s", state);
        return buf;
}

size_t format_columns(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

/* A copy of s safe to print on a terminal: tabs become spaces, other control characters
 * '?'. With multiline, newlines stay ("\r\n" counts as one) and trailing ones are dropped;
 * without, only the first line is kept. max_columns > 0 truncates the result to that many
 * columns, "..." included, which also marks a dropped rest of the text. */
static char *sanitize(const char *s, bool multiline, size_t max_columns) {
        size_t n = strlen(s);
        char *out = malloc(n + 4);
        size_t o = 0, cols = 0;
        bool cut = false;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];
                if (c == '\r' && s[i + 1] == '\n')
                        continue;
                if (c == '\n') {
                        if (!multiline) {
                                /* Only blank lines after it: nothing is lost. */
                                cut = s[i + 1 + strspn(s + i + 1, "\r\n\t ")] != '\0';
                                break;
                        }
                        out[o++] = '\n';
                        continue;
                }
                if ((c & 0xC0) != 0x80) {
                        if (max_columns > 0 && cols >= max_columns) {
                                cut = true;
                                break;
                        }
                        cols++;
                }
                out[o++] = c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        while (o > 0 && out[o - 1] == '\n')
                o--;
        out[o] = '\0';
        if (cut && max_columns > 0) {
                /* Make room for "..." by dropping whole code points from the end. */
                while (o > 0 && format_columns(out) + 3 > max_columns) {
                        do
                                o--;
                        while (o > 0 && ((unsigned char) out[o] & 0xC0) == 0x80);
                        out[o] = '\0';
                }
                memcpy(out + o, "...", 4);
        }
        return out;
}

char *format_clean_line(const char *s, size_t max_columns) {
        return sanitize(s, false, max_columns);
}

enum {
        COL_NAME,
        COL_STATE,
        COL_PID,
        COL_UPTIME,
        COL_WORKERS,
        COL_REQUESTS,
        COL_RESTARTS,
        COL_ERROR,
        _COL_MAX,
};

static const struct {
        const char *header;
        bool right; /* numbers align right */
} columns[_COL_MAX] = {
        [COL_NAME] = { "NAME", false },         [COL_STATE] = { "STATE", false },
        [COL_PID] = { "PID", true },            [COL_UPTIME] = { "UPTIME", true },
        [COL_WORKERS] = { "WORKERS", true },    [COL_REQUESTS] = { "REQUESTS", true },
        [COL_RESTARTS] = { "RESTARTS", true },  [COL_ERROR] = { "LAST ERROR", false },
};

typedef struct Row {
        char *cells[_COL_MAX];
} Row;

static void rows_free(Row *rows, size_t n) {
        for (size_t i = 0; rows && i < n; i++)
                for (size_t c = 0; c < _COL_MAX; c++)
                        free(rows[i].cells[c]);
        free(rows);
}

/* "busy/total", with "-" for a missing half; "-" without a workers object. */
static char *format_workers(const cJSON *v, char *buf, size_t size) {
        const cJSON *w = field(v, "workers");
        char busy[32], total[32];

        if (!cJSON_IsObject(w)) {
                (void) snprintf(buf, size, "-");
                return buf;
        }
        (void) snprintf(buf, size, "%s/%s", format_integer(field(w, "busy"), busy, sizeof(busy)),
                        format_integer(field(w, "total"), total, sizeof(total)));
        return buf;
}

static int row_fill(Row *row, const cJSON *v) {
        char buf[512];
        double uptime;
        const char *name = string_of(field(v, "name"));
        const char *error = string_of(field(v, "last_error"));

        row->cells[COL_NAME] = sanitize(name && name[0] ? name : "-", false, 0);
        row->cells[COL_STATE] = sanitize(format_state(v, buf, sizeof(buf)), false, 0);
        row->cells[COL_PID] = strdup(format_integer(field(v, "pid"), buf, sizeof(buf)));
        row->cells[COL_UPTIME] = strdup(number_of(field(v, "uptime"), &uptime)
                                                ? format_duration(uptime, buf, sizeof(buf))
                                                : "-");
        row->cells[COL_WORKERS] = strdup(format_workers(v, buf, sizeof(buf)));
        row->cells[COL_REQUESTS] = strdup(format_integer(field(v, "requests"), buf, sizeof(buf)));
        row->cells[COL_RESTARTS] = strdup(format_integer(field(v, "restarts"), buf, sizeof(buf)));
        row->cells[COL_ERROR] = sanitize(error && error[0] ? error : "-", false,
                                         FORMAT_ERROR_COLUMNS);
        for (size_t c = 0; c < _COL_MAX; c++)
                if (!row->cells[c])
                        return -ENOMEM;
        return 0;
}

static void print_row(FILE *f, const char *const cells[_COL_MAX], const size_t width[_COL_MAX]) {
        for (size_t c = 0; c < _COL_MAX; c++) {
                size_t pad = width[c] - format_columns(cells[c]);
                if (c > 0)
                        fputs("  ", f);
                if (c == _COL_MAX - 1) { /* the last column is not padded: no trailing blanks */
                        fputs(cells[c], f);
                        break;
                }
                if (columns[c].right)
                        fprintf(f, "%*s%s", (int) pad, "", cells[c]);
                else
                        fprintf(f, "%s%*s", cells[c], (int) pad, "");
        }
        fputc('\n', f);
}

int format_status_table(FILE *f, const cJSON *vassals) {
        size_t n = cJSON_IsArray(vassals) ? (size_t) cJSON_GetArraySize(vassals) : 0;
        size_t width[_COL_MAX];
        const char *headers[_COL_MAX];
        Row *rows;
        size_t i = 0;
        const cJSON *v;

        if (n == 0) {
                fputs("no vassals\n", f);
                return 0;
        }
        rows = calloc(n, sizeof(Row));
        if (!rows)
                return -ENOMEM;
        cJSON_ArrayForEach(v, vassals) {
                if (i >= n || row_fill(&rows[i++], v) < 0) {
                        rows_free(rows, n);
                        return -ENOMEM;
                }
        }
        for (size_t c = 0; c < _COL_MAX; c++) {
                headers[c] = columns[c].header;
                width[c] = format_columns(headers[c]);
                for (i = 0; i < n; i++)
                        width[c] = MAX(width[c], format_columns(rows[i].cells[c]));
        }
        print_row(f, headers, width);
        for (i = 0; i < n; i++)
                print_row(f, (const char *const *) rows[i].cells, width);
        rows_free(rows, n);
        return 0;
}

/* The detail block: labels padded to a common width, multi-line values indented under the
 * first line. */
typedef struct Detail {
        FILE *f;
        int width; /* of "label:" plus one blank */
} Detail;

static int detail_line(const Detail *d, const char *label, const char *value) {
        _cleanup_free_ char *clean = sanitize(value && value[0] ? value : "-", true, 0);
        char *line, *next;

        if (!clean)
                return -ENOMEM;
        fprintf(d->f, "%s:%*s", label, MAX(1, d->width - (int) format_columns(label) - 1), "");
        for (line = clean; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (line != clean)
                        fprintf(d->f, "%*s", d->width, "");
                fprintf(d->f, "%s\n", line);
        }
        return 0;
}

/* Joins the elements of an array: strings as they are, numbers as integers, others "-";
 * "-" for an empty or missing array. NULL on OOM. */
static char *join_array(const cJSON *a, const char *sep) {
        char *out = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&out, &size);
        const cJSON *e;
        bool first = true;

        if (!m)
                return NULL;
        if (cJSON_IsArray(a))
                cJSON_ArrayForEach(e, a) {
                        char buf[64];
                        const char *s = string_of(e);
                        fprintf(m, "%s%s", first ? "" : sep,
                                s ? s : format_integer(e, buf, sizeof(buf)));
                        first = false;
                }
        if (first)
                fputs("-", m);
        if (fclose(m) != 0)
                return mfree(out);
        return out;
}

/* The fields format_status_detail() prints by name, in the protocol's order. */
static const char *const known_fields[] = {
        "name", "state", "phase", "backoff", "pid", "uptime", "workers", "worker_pids", "requests",
        "errors", "avg_rt_ms", "p99_rt_ms", "rss", "cpu", "listen_queue", "stats_age",
        "restarts", "ini", "sockets", "uid", "last_exit", "last_error", "warnings",
};

/* A number with a unit ("2.50 ms"), "-" when it is not a number. Returns buf. */
static char *format_unit(const cJSON *j, const char *fmt, char *buf, size_t size) {
        double v;
        if (!number_of(j, &v))
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, fmt, v);
        return buf;
}

/* Bytes as "47.3 MiB"; "-" when not a number >= 0. Returns buf. */
static char *format_bytes(const cJSON *j, char *buf, size_t size) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v;
        size_t u = 0;
        if (!number_of(j, &v) || v < 0) {
                snprintf(buf, size, "-");
                return buf;
        }
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
        return buf;
}

static bool field_known(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(known_fields); i++)
                if (streq(known_fields[i], key))
                        return true;
        return false;
}

/* A field this version does not know: its value as text. NULL on OOM. */
static char *format_other(const cJSON *j) {
        const char *s = string_of(j);
        char *out;

        if (s)
                return strdup(s);
        if (cJSON_IsNull(j))
                return strdup("-");
        if (j && cJSON_IsNumber(j) && isfinite(j->valuedouble)) {
                if (asprintf(&out, "%.15g", j->valuedouble) < 0)
                        return NULL;
                return out;
        }
        return cJSON_PrintUnformatted(j); /* true, false, arrays, objects */
}

int format_status_detail(FILE *f, const cJSON *vassal) {
        Detail d = { .f = f, .width = (int) strlen("worker pids: ") };
        const cJSON *obj = cJSON_IsObject(vassal) ? vassal : NULL; /* the macro needs a name */
        const cJSON *w = field(vassal, "workers");
        char state[512], pid[32], uptime[32], workers[96], busy[32], total[32], requests[32],
                restarts[32], uid[32], errors[32], avg[48], p99[48], rss[48], cpu[48], lq[32],
                age[48];
        double secs;
        const cJSON *j;
        int r;

        /* Unknown fields may have longer names: align every value under the longest. */
        cJSON_ArrayForEach(j, obj)
                if (j->string && !field_known(j->string))
                        d.width = MAX(d.width, (int) MIN(format_columns(j->string), 40) + 2);

        _cleanup_free_ char *sockets = join_array(field(vassal, "sockets"), ", ");
        _cleanup_free_ char *pids = join_array(field(vassal, "worker_pids"), " ");
        if (!sockets || !pids)
                return -ENOMEM;
        if (cJSON_IsObject(w))
                (void) snprintf(workers, sizeof(workers), "%s busy / %s total",
                                format_integer(field(w, "busy"), busy, sizeof(busy)),
                                format_integer(field(w, "total"), total, sizeof(total)));
        else
                (void) snprintf(workers, sizeof(workers), "-");
        if (!number_of(field(vassal, "uptime"), &secs))
                secs = NAN;

        /* The live numbers are printed when the emperor sends them (not before the first
         * report, nor from an older emperor). */
        if (field(vassal, "listen_queue"))
                d.width = MAX(d.width, (int) strlen("listen queue: "));
        const struct {
                const char *label, *value;
                const char *key; /* printed only when the reply has it */
        } lines[] = {
                { "name", string_of(field(vassal, "name")), NULL },
                { "state", format_state(vassal, state, sizeof(state)), NULL },
                { "pid", format_integer(field(vassal, "pid"), pid, sizeof(pid)), NULL },
                { "uptime", format_duration(secs, uptime, sizeof(uptime)), NULL },
                { "workers", workers, NULL },
                { "worker pids", pids, NULL },
                { "requests",
                  format_integer(field(vassal, "requests"), requests, sizeof(requests)), NULL },
                { "errors", format_integer(field(vassal, "errors"), errors, sizeof(errors)),
                  "errors" },
                { "avg rt", format_unit(field(vassal, "avg_rt_ms"), "%.2f ms", avg, sizeof(avg)),
                  "avg_rt_ms" },
                { "p99 rt", format_unit(field(vassal, "p99_rt_ms"), "%.2f ms", p99, sizeof(p99)),
                  "p99_rt_ms" },
                { "rss", format_bytes(field(vassal, "rss"), rss, sizeof(rss)), "rss" },
                { "cpu", format_unit(field(vassal, "cpu"), "%.1f %% of a core", cpu, sizeof(cpu)),
                  "cpu" },
                { "listen queue", format_integer(field(vassal, "listen_queue"), lq, sizeof(lq)),
                  "listen_queue" },
                { "stats age", format_unit(field(vassal, "stats_age"), "%.1f s", age, sizeof(age)),
                  "stats_age" },
                { "restarts",
                  format_integer(field(vassal, "restarts"), restarts, sizeof(restarts)), NULL },
                { "ini", string_of(field(vassal, "ini")), NULL },
                { "sockets", sockets, NULL },
                { "uid", format_integer(field(vassal, "uid"), uid, sizeof(uid)), NULL },
                { "last exit", string_of(field(vassal, "last_exit")), NULL },
                { "last error", string_of(field(vassal, "last_error")), NULL },
                { "warnings", string_of(field(vassal, "warnings")), "warnings" },
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                if (lines[i].key && !field(vassal, lines[i].key))
                        continue;
                r = detail_line(&d, lines[i].label, lines[i].value);
                if (r < 0)
                        return r;
        }

        cJSON_ArrayForEach(j, obj) {
                if (!j->string || field_known(j->string))
                        continue;
                _cleanup_free_ char *label = sanitize(j->string, false, 40);
                _cleanup_free_ char *value = format_other(j);
                if (!label || !value)
                        return -ENOMEM;
                for (char *p = label; *p; p++)
                        if (*p == '_')
                                *p = ' ';
                r = detail_line(&d, label, value);
                if (r < 0)
                        return r;
        }
        return 0;
}

int format_status(FILE *f, const cJSON *reply, const char *app, const char **ret_error) {
        const cJSON *vassals = field(reply, "vassals");
        const cJSON *v;

        if (!app) {
                if (!cJSON_IsArray(vassals)) {
                        *ret_error = "malformed reply from the emperor: no \"vassals\" list";
                        return -EBADMSG;
                }
                return format_status_table(f, vassals);
        }

        /* One vassal: as "vassal", or as the entry of that name in "vassals" (or its only
         * entry, whatever its name says). */
        v = field(reply, "vassal");
        if (!cJSON_IsObject(v)) {
                v = NULL;
                if (cJSON_IsArray(vassals)) {
                        const cJSON *e;
                        cJSON_ArrayForEach(e, vassals)
                                if (streq_ptr(string_of(field(e, "name")), app)) {
                                        v = e;
                                        break;
                                }
                        if (!v && cJSON_GetArraySize(vassals) == 1 &&
                            cJSON_IsObject(cJSON_GetArrayItem(vassals, 0)))
                                v = cJSON_GetArrayItem(vassals, 0);
                }
        }
        if (!v) {
                *ret_error = "malformed reply from the emperor: no vassal in the status reply";
                return -EBADMSG;
        }
        return format_status_detail(f, v);
}

void format_message(FILE *f, const cJSON *reply) {
        const char *m = string_of(field(reply, "message"));
        size_t n;

        if (!m || !m[0])
                return;
        n = strlen(m);
        fprintf(f, "%s%s", m, m[n - 1] == '\n' ? "" : "\n");
}
