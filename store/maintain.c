/* SPDX-License-Identifier: MIT */
/* The store's work between ticks, a bounded step at a time: the journal's closed minutes
 * packed into per-vassal blocks with their minute rollups, closed hours rolled up into days,
 * old blocks and events expired, and the file kept under its size bound. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "store-internal.h"

/* ---- packing, rollups and retention ---- */

static void fmax64(int64_t *into, int64_t v) {
        if (v != BLOCK_NULL && (*into == BLOCK_NULL || v > *into))
                *into = v;
}

static int64_t mean64(double sum, double n) {
        return n > 0 ? (int64_t) llround(sum / n) : BLOCK_NULL;
}

/* Samples of one resolution, oldest first, as one sample of the bucket starting at bucket:
 * counters are the last, rates and gauges averaged (response time weighted by the rate),
 * peaks the maximum. */
static BlockSample rollup(const BlockSample *in, size_t n, int64_t bucket) {
        BlockSample o = { .ts = bucket };
        double rps = 0, rps_n = 0, rt = 0, rt_w = 0, rt_plain = 0, rt_n = 0;
        double cpu = 0, cpu_n = 0, busy = 0, busy_n = 0;

        for (int f = 0; f < BLOCK_FIELDS; f++)
                o.f[f] = BLOCK_NULL;
        for (size_t k = 0; k < n; k++) {
                const int64_t *v = in[k].f;
                if (v[BF_RPS] != BLOCK_NULL) {
                        rps += (double) v[BF_RPS];
                        rps_n++;
                }
                if (v[BF_AVG_RT] != BLOCK_NULL && v[BF_RPS] != BLOCK_NULL && v[BF_RPS] > 0) {
                        rt += (double) v[BF_AVG_RT] * (double) v[BF_RPS];
                        rt_w += (double) v[BF_RPS];
                } else if (v[BF_AVG_RT] != BLOCK_NULL) {
                        rt_plain += (double) v[BF_AVG_RT];
                        rt_n++;
                }
                if (v[BF_CPU] != BLOCK_NULL) {
                        cpu += (double) v[BF_CPU];
                        cpu_n++;
                }
                if (v[BF_BUSY] != BLOCK_NULL) {
                        busy += (double) v[BF_BUSY];
                        busy_n++;
                }
                static const int last[] = { BF_REQUESTS, BF_ERRORS, BF_RESPAWNS };
                for (size_t j = 0; j < ELEMENTSOF(last); j++)
                        if (v[last[j]] != BLOCK_NULL)
                                o.f[last[j]] = v[last[j]];
                static const int peak[] = { BF_P99_RT, BF_RSS, BF_TOTAL, BF_LISTEN_QUEUE };
                for (size_t j = 0; j < ELEMENTSOF(peak); j++)
                        fmax64(&o.f[peak[j]], v[peak[j]]);
        }
        o.f[BF_RPS] = mean64(rps, rps_n);
        o.f[BF_AVG_RT] = rt_w > 0 ? mean64(rt, rt_w) : mean64(rt_plain, rt_n);
        o.f[BF_CPU] = mean64(cpu, cpu_n);
        o.f[BF_BUSY] = mean64(busy, busy_n);
        return o;
}

/* Merges add (oldest first) into the block of vassal id at res starting at start: what is
 * there is read, a sample of the same second replaced, the whole written back. */
static int block_merge(Store *s, int64_t id, int res, int64_t start, const BlockSample *add,
                       size_t n_add) {
        sqlite3_stmt *st = s->st[ST_BLOCK_GET];
        BlockSample *old = s->merge_old, *out = s->merge_out;
        long n_old = 0;
        int rc;

        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, res);
        sqlite3_bind_int64(st, 3, start);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const void *data = sqlite3_column_blob(st, 0);
                n_old = block_decode(data, (size_t) sqlite3_column_bytes(st, 0), old,
                                     BLOCK_MAX_SAMPLES);
                if (n_old < 0) {
                        log_warning("stats store '%s': vassal %lld's block %d/%lld is unreadable, "
                                    "replacing it", s->path, (long long) id, res, (long long) start);
                        n_old = 0;
                }
                rc = SQLITE_DONE;
        }
        (void) sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return rc;

        size_t i = 0, j = 0, n = 0;
        while ((i < (size_t) n_old || j < n_add) && n < BLOCK_MAX_SAMPLES) {
                if (j == n_add || (i < (size_t) n_old && old[i].ts < add[j].ts))
                        out[n++] = old[i++];
                else {
                        if (i < (size_t) n_old && old[i].ts == add[j].ts)
                                i++;
                        out[n++] = add[j++];
                }
        }
        long len = block_encode(out, n, s->blob, sizeof(s->blob));
        if (len < 0)
                return SQLITE_INTERNAL; /* values are clamped: cannot happen */
        st = s->st[ST_BLOCK_PUT];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, res);
        sqlite3_bind_int64(st, 3, start);
        sqlite3_bind_int64(st, 4, (int64_t) n);
        sqlite3_bind_blob(st, 5, s->blob, (int) len, SQLITE_STATIC);
        return schema_step_done(st);
}

/* One vassal's journal rows of one minute: a raw block, and its minute in the hour's block. */
static int pack_minute(Store *s, int64_t id, const BlockSample *rows, size_t n) {
        int64_t minute = rows[0].ts / 60 * 60;
        int rc = block_merge(s, id, 1, minute, rows, n);
        if (rc == SQLITE_OK) {
                BlockSample m = rollup(rows, n, minute);
                rc = block_merge(s, id, 60, minute / 3600 * 3600, &m, 1);
        }
        return rc;
}

static BlockSample row_to_block(sqlite3_stmt *st) {
        BlockSample b = { .ts = sqlite3_column_int64(st, 1) };
        for (int f = 0; f < BLOCK_FIELDS; f++)
                b.f[f] = sqlite3_column_type(st, 2 + f) == SQLITE_NULL ? BLOCK_NULL
                                                                       : sqlite3_column_int64(st, 2 + f);
        return b;
}

/* The next chunk of vassal ids after the cursor: (cursor, *ret_hi]; done when it is the last. */
static int next_ids(Store *s, int64_t cursor, int64_t *ret_hi, bool *ret_last) {
        sqlite3_stmt *st = s->st[ST_VASSAL_IDS];
        size_t n = 0;
        int rc;

        sqlite3_bind_int64(st, 1, cursor);
        sqlite3_bind_int64(st, 2, MAINT_IDS);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                *ret_hi = sqlite3_column_int64(st, 0);
                n++;
        }
        (void) sqlite3_reset(st);
        *ret_last = n < MAINT_IDS;
        if (*ret_last)
                *ret_hi = INT64_MAX;
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Packs the journal's rows before m->until of the next chunk of vassals, then drops them from
 * the journal, in one transaction; the last chunk moves rollup_60. */
static int maint_pack_step(Store *s, bool *ret_done) {
        Maint *m = &s->maint;
        int64_t hi, cur_id = -1;
        size_t n = 0;
        bool last;
        int rc = schema_step_done(s->st[ST_BEGIN]);

        if (rc != SQLITE_OK)
                return rc;
        rc = next_ids(s, m->cursor, &hi, &last);
        sqlite3_stmt *st = s->st[ST_RECENT_READ];
        if (rc == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, m->until);
                sqlite3_bind_int64(st, 2, m->cursor);
                sqlite3_bind_int64(st, 3, hi);
        }
        while (rc == SQLITE_OK) {
                int step = sqlite3_step(st);
                int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
                BlockSample b = step == SQLITE_ROW ? row_to_block(st) : (BlockSample) {};
                /* A vassal's minute ends at another vassal, another minute or the end. */
                if (n > 0 && (id != cur_id || b.ts / 60 != s->rows[0].ts / 60 ||
                              n == BLOCK_MAX_SAMPLES)) {
                        rc = pack_minute(s, cur_id, s->rows, n);
                        n = 0;
                }
                if (step != SQLITE_ROW) {
                        if (step != SQLITE_DONE && rc == SQLITE_OK)
                                rc = step;
                        break;
                }
                cur_id = id;
                s->rows[n++] = b;
        }
        (void) sqlite3_reset(st);
        if (rc == SQLITE_OK) {
                st = s->st[ST_RECENT_DELETE];
                sqlite3_bind_int64(st, 1, m->until);
                sqlite3_bind_int64(st, 2, m->cursor);
                sqlite3_bind_int64(st, 3, hi);
                rc = schema_step_done(st);
        }
        if (rc == SQLITE_OK && last)
                rc = schema_meta_set(s, "rollup_60", m->until);
        if (rc == SQLITE_OK)
                rc = schema_step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        m->cursor = hi;
        *ret_done = last;
        return SQLITE_OK;
}

/* Rolls the hour m->until up for the next chunk of vassals that have minutes in it; the last
 * chunk moves rollup_3600. */
static int maint_hour_step(Store *s, bool *ret_done) {
        Maint *m = &s->maint;
        int64_t ids[MAINT_IDS];
        BlockSample *hours = s->rows; /* BLOCK_MAX_SAMPLES >= MAINT_IDS */
        size_t n = 0;
        int rc = schema_step_done(s->st[ST_BEGIN]);

        if (rc != SQLITE_OK)
                return rc;
        sqlite3_stmt *st = s->st[ST_BLOCKS_AT];
        sqlite3_bind_int(st, 1, 60);
        sqlite3_bind_int64(st, 2, m->until);
        sqlite3_bind_int64(st, 3, m->cursor);
        sqlite3_bind_int(st, 4, MAINT_IDS);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                long k = block_decode(sqlite3_column_blob(st, 1),
                                      (size_t) sqlite3_column_bytes(st, 1), s->merge_old,
                                      BLOCK_MAX_SAMPLES);
                ids[n] = sqlite3_column_int64(st, 0);
                if (k > 0)
                        hours[n++] = rollup(s->merge_old, (size_t) k, m->until);
                else
                        m->cursor = ids[n]; /* unreadable: skipped */
        }
        (void) sqlite3_reset(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        for (size_t k = 0; k < n && rc == SQLITE_OK; k++)
                rc = block_merge(s, ids[k], 3600, m->until / 86400 * 86400, &hours[k], 1);
        bool last = n < MAINT_IDS;
        if (rc == SQLITE_OK && last)
                rc = schema_meta_set(s, "rollup_3600", m->until + 3600);
        if (rc == SQLITE_OK)
                rc = schema_step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        if (n > 0)
                m->cursor = ids[n - 1];
        *ret_done = last;
        return SQLITE_OK;
}

static int pragma_int(Store *s, Stmt k, int64_t *ret) {
        sqlite3_stmt *st = s->st[k];
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        (void) sqlite3_reset(st);
        return rc;
}

/* The oldest block's start at resolution index k, or INT64_MAX when there is none. */
static int oldest_block(Store *s, size_t k, int64_t *ret) {
        sqlite3_stmt *st = s->st[ST_OLDEST];
        sqlite3_bind_int(st, 1, resolutions[k]);
        int rc = sqlite3_step(st);
        *ret = INT64_MAX;
        if (rc == SQLITE_ROW) {
                if (sqlite3_column_type(st, 0) != SQLITE_NULL)
                        *ret = sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        (void) sqlite3_reset(st);
        return rc;
}

/* What goes first when the file is past its bound, each down to its floor (seconds of
 * history kept): recent seconds and minutes are what people look at. */
static const struct {
        size_t k; /* resolution index */
        int64_t floor;
} budget_trims[] = {
        { 0, 3600 }, { 1, 7 * 86400 }, { 0, 600 }, { 1, 86400 }, { 2, 30 * 86400 },
};

static void format_span(int64_t secs, char *buf, size_t size) {
        if (secs >= 2 * 86400)
                snprintf(buf, size, "%lldd%02lldh", (long long) (secs / 86400),
                         (long long) (secs % 86400 / 3600));
        else
                snprintf(buf, size, "%lldh%02lldm", (long long) (secs / 3600),
                         (long long) (secs % 3600 / 60));
}

/* Past 90% of max_bytes (pages in use, not the file: free pages are reused), deletes a chunk
 * of the oldest blocks of the first tier in budget_trims that is above its floor. Sets
 * *ret_more when it deleted some (the next tick checks again). */
static int store_budget(Store *s, int64_t now_s, bool *ret_more) {
        int64_t pages = 0, free_pages = 0, oldest;
        int rc;

        *ret_more = false;
        rc = pragma_int(s, ST_PAGES, &pages);
        if (rc == SQLITE_OK)
                rc = pragma_int(s, ST_FREE_PAGES, &free_pages);
        if (rc != SQLITE_OK)
                return rc;
        uint64_t used = (uint64_t) (pages - free_pages) * (uint64_t) s->page_size;
        if (used <= s->max_bytes / 10 * 9)
                return SQLITE_OK;
        for (size_t t = 0; t < ELEMENTSOF(budget_trims); t++) {
                size_t k = budget_trims[t].k;
                rc = oldest_block(s, k, &oldest);
                if (rc != SQLITE_OK)
                        return rc;
                int64_t floor_start = now_s - budget_trims[t].floor - block_spans[k];
                if (oldest >= floor_start)
                        continue;
                /* A chunk: ten blocks' time of every vassal, at most EXPIRE_CHUNK blocks. */
                int64_t cut = MIN(oldest + 10 * block_spans[k], floor_start) + 1;
                sqlite3_stmt *st = s->st[ST_BLOCKS_EXPIRE];
                sqlite3_bind_int(st, 1, resolutions[k]);
                sqlite3_bind_int64(st, 2, cut);
                sqlite3_bind_int(st, 3, EXPIRE_CHUNK);
                rc = schema_step_done(st);
                if (rc != SQLITE_OK)
                        return rc;
                *ret_more = true;
                if (now_s - s->budget_logged_at >= 3600) {
                        static const char *const names[] = { "seconds", "minutes", "hours" };
                        char kept[32], want[32];
                        format_span(now_s - cut, kept, sizeof(kept));
                        format_span((int64_t) s->retain[k], want, sizeof(want));
                        log_notice("stats store '%s': %.0f MB used of its %.0f MB bound: %s are "
                                   "kept %s instead of %s (--store-max-size)",
                                   s->path, (double) used / 1e6, (double) s->max_bytes / 1e6,
                                   names[k], kept, want);
                        store_queue_eventf(s, NULL, "store",
                                     "%.0f MB of %.0f MB: %s kept %s instead of %s",
                                     (double) used / 1e6, (double) s->max_bytes / 1e6, names[k],
                                     kept, want);
                        s->budget_logged_at = now_s;
                }
                return SQLITE_OK;
        }
        return SQLITE_OK;
}

/* Deletes blocks that ended before their retention, and old events, a bounded number a step. */
static int maint_expire_step(Store *s, int64_t now_s, bool *ret_done) {
        int changes = 0;
        int rc = schema_step_done(s->st[ST_BEGIN]);

        if (rc != SQLITE_OK)
                return rc;
        for (size_t k = 0; k < 3 && rc == SQLITE_OK; k++) {
                sqlite3_stmt *st = s->st[ST_BLOCKS_EXPIRE];
                sqlite3_bind_int(st, 1, resolutions[k]);
                /* A block goes once all of it is older than the retention. */
                sqlite3_bind_int64(st, 2, now_s - (int64_t) s->retain[k] - block_spans[k] + 1);
                sqlite3_bind_int(st, 3, EXPIRE_CHUNK);
                rc = schema_step_done(st);
                changes += sqlite3_changes(s->db);
        }
        if (rc == SQLITE_OK) {
                sqlite3_stmt *st = s->st[ST_DELETE_EVENTS];
                sqlite3_bind_int64(st, 1, (now_s - (int64_t) s->retain[2]) * 1000);
                sqlite3_bind_int64(st, 2, EVENTS_CHUNK);
                rc = schema_step_done(st);
                changes += sqlite3_changes(s->db);
        }
        bool over = false;
        if (rc == SQLITE_OK)
                rc = store_budget(s, now_s, &over);
        if (rc == SQLITE_OK)
                rc = schema_step_done(s->st[ST_COMMIT]);
        if (rc != SQLITE_OK)
                return store_rollback(s, rc);
        *ret_done = changes < EXPIRE_CHUNK && !over;
        return SQLITE_OK;
}

/* A step of the work between ticks, when some is due: pack the closed minutes, roll a closed
 * hour up, expire. */
bool maintain_step(Store *s) {
        Maint *m = &s->maint;
        int64_t now = (int64_t) (store_now(s) / 1000), wm60, wm3600;
        bool done = false;
        int rc;

        if (!s->db || s->failures > 0 || s->n_events + s->n_samples > 0)
                return false;
        if (m->kind == MAINT_NONE) {
                rc = schema_meta_get(s, "rollup_60", &wm60);
                if (rc == SQLITE_OK)
                        rc = schema_meta_get(s, "rollup_3600", &wm3600);
                if (rc != SQLITE_OK)
                        goto fail;
                bool due[_MAINT_MAX] = {
                        [MAINT_PACK] = wm60 < now / 60 * 60,
                        [MAINT_HOUR] = wm3600 + 3600 <= wm60,
                        [MAINT_EXPIRE] = now - m->expired_at >= EXPIRE_EVERY_S,
                };
                /* Round robin from the kind after the last: a store that falls behind packing
                 * (a huge fleet, a slow disk) still rolls hours up and expires. */
                for (int k = 1; k < _MAINT_MAX && m->kind == MAINT_NONE; k++) {
                        MaintKind kind = (MaintKind) ((m->last + k - 1) % (_MAINT_MAX - 1) + 1);
                        if (due[kind])
                                *m = (Maint) { .kind = kind,
                                               .last = m->last,
                                               .until = kind == MAINT_PACK ? now / 60 * 60 : wm3600,
                                               .expired_at = m->expired_at };
                }
                if (m->kind == MAINT_NONE)
                        return false;
        }
        switch (m->kind) {
        case MAINT_PACK:
                rc = maint_pack_step(s, &done);
                break;
        case MAINT_HOUR:
                rc = maint_hour_step(s, &done);
                break;
        default:
                rc = maint_expire_step(s, now, &done);
                if (rc == SQLITE_OK && done)
                        m->expired_at = now;
                break;
        }
        if (rc != SQLITE_OK)
                goto fail;
        if (done) {
                m->last = m->kind;
                m->kind = MAINT_NONE;
        }
        return true;
fail:
        m->kind = MAINT_NONE;
        if (schema_rc_corrupt(rc))
                schema_move_aside(s, rc, "packing");
        else
                (void) schema_fail_db(s, rc, "packing");
        return false;
}

bool store_idle(Store *s) {
        return s && maintain_step(s);
}

