# The fleet outlives its emperor (runstate.h): 20 vassals serve under load across (a) kill -9
# of the emperor and a new one 3 s later, (b) `emperorctl upgrade` to a new binary on disk,
# (c) a stop of only the main process (SIGQUIT, what systemd's KillMode=process restart does):
# no request fails, every master keeps its pid, every vassal is adopted and a touch after the
# adoption reloads it blue-green. While no emperor runs, a killed vassal is restarted, a removed
# ini stopped and a new one started once the next emperor comes; a RUN_DIR entry naming a
# process that is not our vassal is refused and that process left alone.
. "$(dirname "$0")/lib.sh"

N=20
mkdir -p "$T/conf" "$T/run" "$T/bin"
CONF="$T/conf"
RUN="$T/run"
cp "$BUILD/emperor" "$T/bin/emperor"
mapfile -t PORTS < <(free_ports $((N + 1)))
for k in $(seq 1 $N); do
        printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nprocesses = 1\nthreads = 4\ndisable-logging = true\n' \
                "${PORTS[$((k - 1))]}" "$APPS" >"$CONF/v$k.ini"
done

n_emp=0
start() { # a new emperor from $T/bin (the vassal from the build); its pid in emperor_pid
        n_emp=$((n_emp + 1))
        "$T/bin/emperor" --run-dir "$RUN" --state-dir "$T/state" --http none --stats-interval 1 \
                --vassal "$VASSAL" "$CONF" >"$T/emperor$n_emp.log" 2>&1 </dev/null &
        emperor_pid=$!
        PIDS+=("$emperor_pid")
}
running() { [ "$(ctl status 2>/dev/null | grep -c ' running ')" = "$1" ]; }
masters() { # NAME...: their master pids, one line (one status call: this runs often)
        ctl --json status | /usr/bin/python3 -c '
import json, sys
pids = {v["name"]: v["pid"] for v in json.load(sys.stdin)["vassals"]}
print("".join("%s " % pids.get(n) for n in sys.argv[1:]))' "$@"
}
ALL=$(seq -f 'v%g' 1 $N | tr '\n' ' ')

start
wait_until 60 running $N || fail "$N vassals not running: $(ctl status)"
before=$(masters $ALL)
for p in $before; do PIDS+=("$p"); done # ours to clean up if a check fails
ok "$N vassals running"

# Load on v1 and v5..v20 for the whole scenario (v2..v4 are killed and removed below).
LOAD_PORTS="${PORTS[0]} ${PORTS[*]:4:$((N - 4))}"
/usr/bin/python3 "$TOP/tests/integration/fleetload.py" "$T/stop-load" $LOAD_PORTS >"$T/load.out" 2>&1 &
load_pid=$!
PIDS+=("$load_pid")
sleep 1

# (a) kill -9, a new emperor 3 s later.
kill -KILL "$emperor_pid"
wait "$emperor_pid" 2>/dev/null
sleep 3
t0=$(date +%s.%N)
start
wait_until 30 running $N || fail "(a) not every vassal adopted: $(ctl status)"
t1=$(date +%s.%N)
assert_eq "$(masters $ALL)" "$before" "(a) after kill -9 every master keeps its pid"
assert_eq "$(grep -c 'adopted pid' "$T/emperor2.log")" "$N" "(a) all $N adopted"
echo "  (a) adopted in $(/usr/bin/python3 -c "print(round($t1 - $t0, 2))") s (from the new emperor's start to $N running in status)"

# A touch after the adoption: blue-green on the sockets taken back.
old=$(vassal_field v1 pid)
touch "$CONF/v1.ini"
wait_until 30 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status v1 | /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin)[\"vassals\"][0]; print(v[\"pid\"] if v[\"state\"] == \"running\" else 0)')\" != 0 ] && [ \"\$('$CTL' --run-dir '$RUN' --json status v1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"pid\"])')\" != $old ]" ||
        fail "a touch after adoption did not reload v1: $(ctl status v1)"
ok "a touch after adoption reloads blue-green (pid $old -> $(vassal_field v1 pid))"
before=$(masters $ALL)
PIDS+=($(vassal_field v1 pid))

# (b) an upgrade to the binary now on disk: a wrapper that leaves a mark, then runs the build.
printf '#!/bin/sh\ntouch "%s/upgraded"\nexec "%s" "$@"\n' "$T" "$BUILD/emperor" >"$T/bin/emperor.new"
chmod +x "$T/bin/emperor.new"
mv "$T/bin/emperor.new" "$T/bin/emperor"
pid_b=$emperor_pid
ctl upgrade >"$T/upgrade.out" 2>&1 || fail "emperorctl upgrade: $(cat "$T/upgrade.out")"
wait_until 10 test -e "$T/upgraded" || fail "(b) the binary on disk did not run"
sleep 1
wait_until 30 running $N || fail "(b) not every vassal adopted after the upgrade: $(ctl status)"
kill -0 "$pid_b" 2>/dev/null || fail "(b) the emperor's pid changed"
assert_eq "$(masters $ALL)" "$before" "(b) after the upgrade every master keeps its pid, the emperor its pid"

# (c) only the main process stops (SIGQUIT): and while no emperor runs, v2's master is killed,
# v3's ini removed, v21's added; a stranger's process is written into RUN_DIR.
kill -QUIT "$emperor_pid"
wait_until 10 gone "$emperor_pid" || fail "(c) SIGQUIT did not end the emperor"
v2=$(echo $before | cut -d' ' -f2)
v3=$(echo $before | cut -d' ' -f3)
kill -KILL "$v2"
rm "$CONF/v3.ini"
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\ndisable-logging = true\n' \
        "${PORTS[$N]}" "$APPS" >"$CONF/v21.ini"
sleep 1000 &
stranger=$!
PIDS+=("$stranger")
read -r ticks < <(awk '{print $22}' /proc/$stranger/stat)
boot=$(cat /proc/sys/kernel/random/boot_id)
printf '{"name":"fake","ini":"%s/conf/fake.ini","pid":%d,"start_ticks":"%s","boot_id":"%s","serving":true,"seq":1,"uid":0,"gid":0,"ini_key":{"hash":"1","mtime_ns":"1","ctime_ns":"1","size":"1","ino":"1","dev":"1"},"sockets":[]}' \
        "$T" "$stranger" "$ticks" "$boot" >"$RUN/vassals/fake.$stranger.json"
start
wait_until 30 bash -c "'$CTL' --run-dir '$RUN' status 2>/dev/null | grep -q '^v21 .* running'" || fail "(c) v21 not started: $(ctl status)"
wait_until 30 bash -c "'$CTL' --run-dir '$RUN' status 2>/dev/null | grep -q '^v2 .* running'" || fail "(c) the killed v2 not restarted: $(ctl status)"
wait_until 30 gone "$v3" || fail "(c) v3 (ini removed) still running"
ctl status v3 >/dev/null 2>&1 && fail "(c) v3 still listed"
ok "while no emperor ran: the killed v2 restarted, v3's removal stopped it, v21 started"
rest=$(masters v1 $(seq -f 'v%g' 4 $N))
assert_eq "$rest" "$(echo $before | cut -d' ' -f1,4-) " "(c) every other master keeps its pid"
assert_file_contains "$T/emperor3.log" "refused, pid $stranger left alone" "a stranger's process in RUN_DIR is refused"
kill -0 "$stranger" || fail "the stranger's process was signalled"
ok "and never signalled"
ctl events v2 | grep -q 'died while no emperor watched it' || fail "no event for v2's death: $(ctl events v2)"
ctl events v1 | grep -q 'adopted' || fail "no adopted event"
ok "the events say so (exit while unwatched, adopted)"

touch "$T/stop-load"
wait "$load_pid"
load_rc=$?
cat "$T/load.out"
[ $load_rc = 0 ] || fail "requests failed across the emperor's restarts"
ok "no request failed across kill -9, upgrade and SIGQUIT: $(head -1 "$T/load.out")"

# The store: one row per vassal, and v5's samples without a gap longer than the outages.
dup=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(db.execute("SELECT count(*) - count(DISTINCT name) FROM vassals").fetchone()[0])' "$T/state/stats.db")
assert_eq "$dup" 0 "one row per vassal in the store"
gap=$(ctl stats v5 --since 10m --every 1s --csv | /usr/bin/python3 -c '
import csv, sys
ts = [int(r["ts"]) for r in csv.DictReader(sys.stdin)]
print(max(b - a for a, b in zip(ts, ts[1:])) if len(ts) > 1 else -1, len(ts))')
set -- $gap
[ "$2" -ge 3 ] || fail "only $2 samples of v5"
[ "$1" -le 8 ] || fail "a gap of $1 s in v5's samples"
ok "v5's $2 samples: the longest gap is $1 s (the kill -9 outage was 3 s)"

# systemctl stop: SIGTERM stops the fleet gracefully and leaves nothing recorded.
stop_pid "$emperor_pid"
wait_until 20 no_vassals || fail "vassals left after SIGTERM: $(vassal_pids | tr '\n' ' ')"
[ -z "$(ls "$RUN/vassals" 2>/dev/null | grep -v "^fake")" ] || fail "records left: $(ls "$RUN/vassals")"
ok "SIGTERM stops every vassal and removes their records"
