#!/usr/bin/env bash
# The stats store at fleet scale (issue 5's targets): a synthetic fleet of VASSALS (default
# 1000) reporting every second, through the store's own write path (bench/store-feed.c).
#
#   1. realtime: a tick a second on the real clock for REALTIME seconds (default 125: two
#      minutes' packing passes and an expiry), busy and mixed fleets: the CPU the store takes
#      (target: under 5% of one core) and how long a tick (with its share of packing) holds
#      the emperor's loop.
#   2. simulate: DAYS (default 30) of history on a fake clock for a mixed fleet of SIM_VASSALS
#      (default 100: a simulated minute packs every vassal's minute, so 1000 vassals' month
#      takes over an hour here), twice, side by side: with the store's bound scaled to the same
#      share per vassal (200 MB x SIM_VASSALS / VASSALS), for the file's size at VASSALS
#      (target: under 200 MB) and what the bound kept; and unbounded, for what the default
#      retention alone would take. Blocks are per vassal, so the size is linear in the fleet:
#      each line gives the size scaled to VASSALS.
#   3. emperorctl stats APP --since 30d (and other spans) on that file: the median of 5 runs
#      (target: under 100 ms).
#
# Results in $OUT (default /tmp/emperor-bench/store): results.txt, one line per measure.
set -u -o pipefail
cd "$(dirname "$0")/.."

VASSALS=${VASSALS:-1000}
REALTIME=${REALTIME:-125}
DAYS=${DAYS:-30}
OUT=${OUT:-/tmp/emperor-bench/store}
BUILD=${BUILD:-build}
SKIP_REALTIME=${SKIP_REALTIME:-0}
SIM_VASSALS=${SIM_VASSALS:-100}

die() { echo "bench: $*" >&2; exit 2; }
make -s "$BUILD/bench/store-feed" "$BUILD/emperorctl" >/dev/null || die "build failed"
FEED="$BUILD/bench/store-feed"
CTL="$BUILD/emperorctl"
rm -rf "$OUT" && mkdir -p "$OUT" || die "cannot make $OUT"
RES="$OUT/results.txt"
say() { echo "$*" | tee -a "$RES"; }

say "# bench/store.sh $(date -u +%FT%TZ) vassals=$VASSALS days=$DAYS $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$SKIP_REALTIME" = 0 ]; then
        for profile in busy mixed; do
                say "$("$FEED" realtime "$OUT/rt-$profile" "$VASSALS" "$REALTIME" "$profile" 2>/dev/null)"
        done
fi

db_parts() {  # bytes by resolution and table, from SQLite's dbstat
        /usr/bin/python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
parts = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
blocks = {r: (n, b) for r, n, b in db.execute(
    "SELECT resolution, count(*), sum(length(data)) FROM blocks GROUP BY resolution")}
names = {1: "seconds", 60: "minutes", 3600: "hours"}
import time
span = {r: time.time() - m for r, m in db.execute(
    "SELECT resolution, min(start) FROM blocks GROUP BY resolution")}
print(" ".join("%s_blocks=%d %s_bytes=%d %s_kept_h=%.1f" % (names[r], n, names[r], b, names[r], span[r] / 3600)
               for r, (n, b) in sorted(blocks.items())),
      "table_blocks=%d index_blocks_age=%d" % (parts.get("blocks", 0), parts.get("blocks_age", 0)))
EOF
}

simulate() {  # NAME MAX_SIZE VASSALS
        local dir="$OUT/sim-$1" line size
        line=$(STORE_MAX_SIZE=$2 "$FEED" simulate "$dir" "$3" "$DAYS" mixed 2>/dev/null) ||
                die "simulate $1 failed"
        size=$(stat -c %s "$dir/stats.db")
        say "$line bound=$2 file_bytes=$size scaled_to_${VASSALS}_bytes=$((size * VASSALS / $3))" \
            "$(db_parts "$dir/stats.db")"
}
simulate bounded "$((200000000 * SIM_VASSALS / VASSALS))" "$SIM_VASSALS" &
simulate unbounded 1T "$SIM_VASSALS" &
wait

# Query latency on the unbounded file (its busiest vassal has all 30 days of minutes): the
# median of 5 runs each.
DB="$OUT/sim-unbounded/stats.db"
APP=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(db.execute("SELECT v.name FROM blocks b JOIN vassals v ON v.id = b.vassal_id WHERE resolution = 60"
                 " GROUP BY vassal_id ORDER BY sum(length(data)) DESC LIMIT 1").fetchone()[0])' "$DB")
query() {  # LABEL ARGS...
        local label=$1 t ms=() rows
        shift
        for _ in 1 2 3 4 5; do
                t=$(date +%s%N)
                rows=$("$CTL" --db "$DB" "$@" --csv | wc -l) || die "emperorctl $* failed"
                ms+=($((($(date +%s%N) - t) / 1000000)))
        done
        say "query $label: $(printf '%s\n' "${ms[@]}" | sort -n | sed -n 3p) ms median" \
            "(runs: ${ms[*]} ms; $((rows - 1)) rows)"
}
# The simulated history ends now, so the spans read as they would on a live fleet.
query "stats $APP --since 30d" stats "$APP" --since 30d
query "stats $APP --since 30d --every 1h" stats "$APP" --since 30d --every 1h
query "stats $APP --since 30d --every 1m" stats "$APP" --since 30d --every 1m
query "stats $APP --since 24h --every 1m" stats "$APP" --since 24h --every 1m
query "stats $APP --since 1h --every 1s" stats "$APP" --since 1h --every 1s
query "stats (the fleet) --since 1h" stats --since 1h
echo "results: $RES"
