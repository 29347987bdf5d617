# The history readers: `emperorctl stats|events` (table, --json, --csv) and the /api/ history
# endpoints, against a real vassal that served a known number of requests; then the same
# commands with the emperor stopped (they read the store, not the daemon); bad input.
. "$(dirname "$0")/lib.sh"

HP=$(free_port)
start_emperor --http 127.0.0.1:$HP --stats-interval 1
P=$(free_port)
make_ini app $P
wait_until 15 state_is app running || fail "app did not start"

# The load starts once the store has the vassal's first sample (it has no rate: the counts
# before it are not part of any row's rate).
last_requests() {
        ctl stats app --since 2m --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(int(rows[-1]["requests"]) if rows and rows[-1]["requests"] is not None else -1)'
}
requests_are() { [ "$(last_requests)" = "$1" ]; }
wait_until 10 requests_are 0 || fail "no first sample: '$(last_requests)'"
N=300
ab -q -n $N -c 4 http://127.0.0.1:$P/ >"$T/ab.out" 2>&1 || fail "ab: $(tail -3 "$T/ab.out")"
grep -q "Failed requests: *0" "$T/ab.out" || fail "ab saw failures"
# Then a few ticks, so the last sample has every request.
wait_until 10 requests_are $N || fail "stats --json: last requests '$(last_requests)', expected $N"
ok "stats --json: the last bucket's requests = $N"

ctl stats app --since 2m --every 1s --json >"$T/s.json" || fail "stats --every 1s"
python3 - "$T/s.json" $N <<'EOF' || fail "the per-second rows do not add up"
import json, sys
rows = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
assert len(rows) >= 2, rows
assert all(r["every"] == 1 and r["resolution"] == 1 for r in rows), rows[0]
ts = [r["ts"] for r in rows]
assert ts == sorted(ts) and len(set(ts)) == len(ts), ts
# rps x 1 s summed over the rows = the requests counted in them.
total = sum(r["rps"] or 0 for r in rows)
assert abs(total - n) <= n * 0.05 + 2, (total, n)
assert all(r["total"] == 1 for r in rows), "one worker"
EOF
ok "stats --every 1s: one row a second, their rates add up to the $N requests"

ctl stats app --since 2m --csv >"$T/s.csv" || fail "stats --csv"
python3 - "$T/s.csv" <<'EOF' || fail "bad CSV"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows and "rps" in rows[0] and "p99_rt_ms" in rows[0], rows[:1]
assert all(len(r) == 16 for r in rows)
EOF
ok "stats --csv parses, with its header"

out=$(ctl stats app --since 2m) || fail "stats table"
assert_contains "$out" "RPS" "the table's header"
out=$(ctl stats) || fail "stats of the fleet"
assert_contains "$out" "app " "the fleet summary lists app"

out=$(ctl events app --since 5m) || fail "events"
for k in found spawn ready running; do assert_contains "$out" " $k " "events: $k"; done
# Pointed at the emperor by its control socket alone, emperorctl finds its store (RUN_DIR/state
# names it): no --state-dir needed.
out=$(EMPERORCTL_SOCKET="$RUN/control.sock" "$CTL" events app --since 5m) ||
        fail "events with EMPERORCTL_SOCKET alone: $out"
assert_contains "$out" " spawn " "EMPERORCTL_SOCKET alone: the store is found"
out=$("$CTL" --socket "$RUN/control.sock" stats app) || fail "stats with --socket alone: $out"
assert_contains "$out" "RPS" "--socket alone: the store is found"
ctl events --json >"$T/e.json" || fail "events --json"
python3 -c '
import json, sys
ev = json.load(open(sys.argv[1]))
assert any(e["vassal"] is None and e["kind"] == "emperor" for e in ev), "no emperor event"
assert all(set(e) == {"time", "ts_ms", "vassal", "kind", "detail"} for e in ev)' "$T/e.json" ||
        fail "events --json"
ok "events --json has the emperor's own events"

# The API.
api() { curl -s -m 5 -w '\n%{http_code}' "http://127.0.0.1:$HP$1"; }
out=$(api "/api/vassals/app/history?since=2m&every=1s")
assert_eq "$(tail -1 <<<"$out")" "200" "GET /api/vassals/app/history"
python3 -c '
import json, sys
j = json.loads(sys.stdin.read().strip().rsplit("\n", 1)[0])
assert j["vassal"] == "app" and j["every"] == 1, j
assert int(j["samples"][-1]["requests"]) == int(sys.argv[1]), j["samples"][-1]' $N <<<"$out" ||
        fail "history JSON: $out"
ok "... its samples end at $N requests"
out=$(api "/api/vassals/app/events")
assert_eq "$(tail -1 <<<"$out")" "200" "GET /api/vassals/app/events"
assert_contains "$out" '"kind":"spawn"' "... with the spawn"
out=$(api "/api/events?vassal=app&since=10m")
assert_contains "$out" '"kind":"ready"' "GET /api/events?vassal=app"
assert_eq "$(api "/api/vassals/nope/history" | tail -1)" "404" "unknown vassal: 404"
assert_eq "$(api "/api/vassals/app/history?since=yesterday" | tail -1)" "400" "bad since: 400"
assert_eq "$(api "/api/vassals/app/history?every=0" | tail -1)" "400" "bad every: 400"
assert_eq "$(api "/api/events?every=1m" | tail -1)" "400" "every on events: 400"
assert_eq "$(api "/api/vassals/app/history?since=1s&every=1s" | tail -1)" "200" "a short span"

# Bad command lines.
ctl stats app --since yesterday 2>"$T/err"; assert_eq "$?" "2" "bad --since: exit 2"
assert_file_contains "$T/err" "invalid --since 'yesterday'" "... saying why"
ctl stats app --every 0 2>/dev/null; assert_eq "$?" "2" "bad --every: exit 2"
ctl stats --every 1m 2>/dev/null; assert_eq "$?" "2" "--every without APP: exit 2"
ctl stats app --since 30d --every 1s 2>"$T/err"; assert_eq "$?" "2" "too many rows: exit 2"
ctl stats nope 2>/dev/null; assert_eq "$?" "3" "unknown vassal: exit 3"
ctl events --every 1m 2>/dev/null; assert_eq "$?" "2" "events takes no --every"
ctl stats app --json --csv 2>/dev/null; assert_eq "$?" "2" "--json and --csv: exit 2"
"$CTL" --db "$T/nope.db" stats 2>"$T/err"; assert_eq "$?" "1" "no store: exit 1"
assert_file_contains "$T/err" "nope.db" "... naming the file"

# With the emperor stopped: the same commands, from the store.
kill -TERM "$emperor_pid"
wait "$emperor_pid" 2>/dev/null
[ -S "$RUN/control.sock" ] && fail "the control socket is still there"
ctl status >/dev/null 2>&1; assert_eq "$?" "4" "status: the emperor is not running"
out=$(ctl events --since 5m) || fail "events with the emperor stopped"
assert_contains "$out" "stopped (pid $emperor_pid)" "events after the stop, through RUN_DIR/stats.db"
requests_are $N || fail "stats with the emperor stopped: '$(last_requests)'"
ok "stats with the emperor stopped"
"$CTL" --state-dir "$T/state" stats app --since 5m >/dev/null || fail "--state-dir"
"$CTL" --db "$T/state/stats.db" events app >/dev/null || fail "--db"
ok "--state-dir and --db"
