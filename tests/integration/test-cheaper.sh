# cheaper (uWSGI's adaptive worker count, algorithm spare) and idle: a vassal of processes = 4,
# cheaper = 1 starts one worker, grows to 4 under a load of slow requests without failing one,
# shrinks back to 1 once the load is gone (the stopped ones shown "cheap", pid 0, in the stats),
# reloads gracefully with parked slots; with idle = 2 every worker stops after 2 s without a
# request, and the next request is answered by a worker spawned for it.
. "$(dirname "$0")/lib.sh"

# stats PORT PYEXPR: the stats server's object as s satisfies PYEXPR.
stats() {
        python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
s = json.loads(data)
sys.exit(0 if eval(" ".join(sys.argv[2].split())) else 1)
PY
}
running() { stats "$1" "len([w for w in s['workers'] if w['pid'] > 0]) == $2"; }
# children PID N: the process has N children (workers) now.
children() { [ "$(pgrep -c -P "$1")" = "$2" ]; }
show() { stats "$1" "print([(w['id'], w['pid'], w['status']) for w in s['workers']]) or True"; }

# ---- bad values: file:line, exit 78 ----
printf '[uwsgi]\nhttp-socket = 127.0.0.1:1\nwsgi-file = %s\nprocesses = 4\ncheaper = 4\n' \
        "$APPS/testapp.py" >"$T/bad.ini"
capture "$VASSAL" --check "$T/bad.ini"
expect 78 "cheaper = processes is refused"
assert_contains "$err" "bad.ini:5: cheaper: must be below processes (4)" "... at its file:line"
printf '[uwsgi]\nhttp-socket = 127.0.0.1:1\nwsgi-file = %s\nprocesses = 4\ncheaper = 1\ncheaper-algo = backlog\n' \
        "$APPS/testapp.py" >"$T/algo.ini"
capture "$VASSAL" --check "$T/algo.ini"
expect 78 "cheaper-algo = backlog is refused"
assert_contains "$err" "algo.ini:6: cheaper-algo: expected 'spare', the only cheaper algorithm" \
        "... saying what we support"
sed -i 's/backlog/spare/' "$T/algo.ini"
capture "$VASSAL" --check "$T/algo.ini"
expect 0 "cheaper-algo = spare passes the check"

# ---- processes = 4, cheaper = 1 ----
P=$(free_port) SP=$(free_port)
start_vassal a --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 4 \
        --cheaper 1 --cheaper-overload 1 --stats 127.0.0.1:$SP
wait_ready a http://127.0.0.1:$P/
stats $SP "[w['status'] for w in s['workers']][1:] == ['cheap'] * 3 and
        [w['pid'] for w in s['workers']][1:] == [0] * 3 and s['workers'][0]['pid'] > 0" ||
        fail "not 1 worker and 3 cheap ones at start: $(show $SP)"
assert_eq "$(pgrep -c -P "$a_pid")" 1 "cheaper = 1: one worker process at start"

# A ramp of slow requests, 2 then 4 then 8 at once (bounded: 14 in all, 3 s each).
python3 - $P >"$T/load.out" 2>&1 <<'PY' &
import sys, threading, time, urllib.request
port = int(sys.argv[1])
codes = []
def one():
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/sleep?3" % port, timeout=60) as r:
            codes.append(r.status)
    except Exception as e:
        codes.append(repr(e))
threads = []
for wave in (2, 4, 8):
    for _ in range(wave):
        t = threading.Thread(target=one)
        t.start()
        threads.append(t)
    time.sleep(1.5)
for t in threads:
    t.join()
print("ok" if codes == [200] * 14 else "codes %s" % codes)
PY
load=$!
wait_until 40 running $SP 4 || fail "the load did not bring 4 workers: $(show $SP)"
ok "under load: 4 workers running"
wait "$load"
assert_eq "$(cat "$T/load.out")" "ok" "no request of the ramp failed"
assert_file_contains "$T/a.log" "cheaper: every worker busy, spawning 1 more" "the spawns are logged"

wait_until 30 running $SP 1 || fail "the idle workers were not retired: $(show $SP)"
stats $SP "sorted(w['status'] for w in s['workers']) == ['cheap'] * 3 + ['idle']" ||
        fail "retired workers are not shown cheap: $(show $SP)"
wait_until 10 children "$a_pid" 1 || fail "retired worker processes remain"
ok "load gone: back to 1 worker, 3 cheap"
assert_file_contains "$T/a.log" "retiring it" "the retirements are logged"
assert_file_contains "$T/a.log" "retired" "... and the workers' exits"
# Retired workers do not come back by themselves.
stats $SP "sum(w['respawn_count'] for w in s['workers']) == 0" ||
        fail "a retired worker was respawned: $(show $SP)"

# A graceful reload with parked slots: the new image starts cheaper-initial workers.
kill -HUP "$a_pid"
wait_until 30 grep -q "reloaded:" "$T/a.log" || fail "no reload"
wait_until 15 running $SP 1 || fail "after the reload: $(show $SP)"
wait_until 15 children "$a_pid" 1 || fail "after the reload: not 1 worker process"
assert_eq "$(status_of http://127.0.0.1:$P/)" 200 "the reloaded vassal answers"
stats $SP "[w['status'] for w in s['workers']].count('cheap') == 3" ||
        fail "after the reload: $(show $SP)"
ok "graceful reload with 3 parked slots: 1 worker, 3 cheap"
stop_pid "$a_pid"

# ---- idle = 2: every worker stops, the next client wakes them ----
P2=$(free_port)
start_vassal b --http-socket 127.0.0.1:$P2 --wsgi-file "$APPS/testapp.py" --processes 2 --idle 2
wait_ready b http://127.0.0.1:$P2/
wait_until 20 children "$b_pid" 0 || fail "idle = 2: workers still run"
ok "idle = 2: no worker process after 2 s without a request"
assert_file_contains "$T/b.log" "idle for 2 s: stopping 2 worker(s)" "the sleep is logged"
assert_eq "$(status_of http://127.0.0.1:$P2/)" 200 "a request while asleep is answered"
assert_file_contains "$T/b.log" "idle: a client connected, spawning 2 worker(s)" "... by workers spawned for it"
wait_until 10 children "$b_pid" 2 || fail "not 2 workers after the wake"
# And asleep again.
wait_until 20 children "$b_pid" 0 || fail "idle = 2: not asleep again"
assert_eq "$(status_of http://127.0.0.1:$P2/)" 200 "a second wake"
stop_pid "$b_pid"

# ---- die-on-idle: the master exits 0 ----
P3=$(free_port)
start_vassal c --http-socket 127.0.0.1:$P3 --wsgi-file "$APPS/testapp.py" --idle 1 --die-on-idle
wait_ready c http://127.0.0.1:$P3/
wait_until 20 gone "$c_pid" || fail "die-on-idle: the master still runs"
wait "$c_pid"
assert_eq "$?" 0 "die-on-idle: the master exits 0 after 1 s idle"
