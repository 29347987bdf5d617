# The stats store: a real vassal under load leaves samples whose last `requests` is what was
# sent, its lifecycle leaves event rows (found, spawn, ready, running, reload, exit, stop,
# stopped, starting), and a kill -9 of the emperor leaves a database that opens read-only and
# holds the ticks written before the kill. Read with python3's sqlite3 (no sqlite3 CLI needed)
# and, for the samples (packed in blocks), with emperorctl's readers.
. "$(dirname "$0")/lib.sh"

DB="$T/state/stats.db"
# q SQL: the first column of the first row, read-only as emperorctl will.
q() {
        python3 - "$DB" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
row = db.execute(sys.argv[2]).fetchone()
print("" if row is None or row[0] is None else row[0])
EOF
}
kinds() { q "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events e JOIN vassals v ON v.id = e.vassal_id WHERE v.name = 'app' ORDER BY e.id)"; }
# raw FIELD: the app's per-second samples, read by emperorctl from the store: "count", "last"
# (the last sample's requests) or "rps" (how many have a rate).
raw() {
        "$CTL" --db "$DB" stats app --since 1h --every 1s --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
what = sys.argv[1]
if what == "count": print(len(rows))
elif what == "last": print(int(rows[-1]["requests"]) if rows else "")
else: print(sum(1 for r in rows if r["rps"] is not None))' "$1"
}
last_requests() { raw last; }
has_kind() { case " $(kinds) " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

start_emperor --stats-interval 1
P=$(free_port)
make_ini app $P
wait_until 15 state_is app running || fail "app did not start"
wait_until 5 test -s "$DB" || fail "no $DB"
assert_eq "$(q 'PRAGMA user_version')" "2" "schema version 2"
assert_eq "$(q 'PRAGMA journal_mode')" "wal" "WAL mode"

N=60
for i in $(seq $N); do curl -s -o /dev/null http://127.0.0.1:$P/ || fail "request $i"; done
requests_are() { [ "$(last_requests)" = "$1" ]; }
wait_until 10 requests_are $N ||
        fail "last sampled requests: '$(last_requests)', expected $N"
ok "the last sample's requests = $N"
more_samples_than() { [ "$(raw count)" -gt "$1" ]; }
wait_until 10 more_samples_than 2 || fail "only $(raw count) samples"
ok "$(raw count) samples so far, one a second"
[ "$(raw rps)" -gt 0 ] || fail "no rps in any sample"
ok "rps from the requests delta"
assert_eq "$(q "SELECT ini FROM vassals WHERE name = 'app'")" "$CONF/app.ini" "the vassal's ini"

# Reload (blue-green), stop, start: each step is an event row.
pid1=$(vassal_field app pid)
ctl reload app >/dev/null || fail "reload"
pid_is_not() { [ "$(vassal_field app pid)" != "$1" ]; }
wait_until 15 pid_is_not "$pid1" ||
        fail "no new pid after reload"
wait_until 15 state_is app running || fail "not running after reload"
ctl stop app >/dev/null || fail "stop"
wait_until 15 state_is app stopped || fail "not stopped"
ctl start app >/dev/null || fail "start"
wait_until 15 state_is app running || fail "not running after start"
for k in found spawn ready running reload exit stop stopped starting; do
        wait_until 5 has_kind $k || fail "no '$k' event: $(kinds)"
done
ok "events: $(kinds)"
assert_contains "$(q "SELECT detail FROM events WHERE kind = 'exit' ORDER BY id LIMIT 1")" "pid $pid1 " "exit names the pid"
assert_contains "$(q "SELECT detail FROM events WHERE kind = 'reload' ORDER BY id LIMIT 1")" "running -> reloading" "reload is a transition"
[ "$(q "SELECT count(*) FROM events WHERE kind = 'emperor' AND vassal_id IS NULL")" -ge 1 ] ||
        fail "no emperor start event"
ok "the emperor's own start event"

# kill -9 of the emperor: the file opens and holds every tick committed before the kill.
for i in $(seq 20); do curl -s -o /dev/null http://127.0.0.1:$P/; done
n=$(raw count)
wait_until 10 more_samples_than $((n + 2)) || fail "no samples from the restarted vassal"
vpid=$(vassal_field app pid)
before=$(raw count)
kill -KILL "$emperor_pid"
wait "$emperor_pid" 2>/dev/null
after=$(raw count)
[ "$after" -ge "$before" ] || fail "samples lost: $before before the kill, $after after"
ok "after kill -9: $after samples (>= $before read before the kill)"
assert_eq "$(q 'PRAGMA quick_check')" "ok" "the database is intact"
# The vassal outlives a killed emperor: stop it ourselves, by pid.
[ -n "$vpid" ] && stop_pid "$vpid"

# A restarted emperor opens the same file, migrates nothing, and keeps writing.
start_emperor --stats-interval 1
wait_until 15 state_is app running || fail "app did not start again"
wait_until 10 more_samples_than "$after" ||
        fail "no new samples after the restart"
ok "a restarted emperor writes to the same database"
assert_eq "$(q "SELECT count(*) FROM vassals WHERE name = 'app'")" "1" "one row per vassal across restarts"
stop_pid "$emperor_pid"
assert_eq "$(q "SELECT detail LIKE 'stopped%' FROM events WHERE kind = 'emperor' ORDER BY id DESC LIMIT 1")" "1" "the emperor's stop event"
