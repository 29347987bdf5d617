# What a supervisor hears over NOTIFY_SOCKET: READY=1, then every stats-interval STATUS= and
# X_STATS= (the scoreboard as JSON: requests counted exactly, workers, busy, the listen
# queue), and, when the vassal exits 78, STATUS= with the first error line.
. "$(dirname "$0")/lib.sh"

# listen NAME: a notify socket at $T/NAME.sock writing what it gets to $T/NAME.out.
listen() {
        python3 "$TOP/tests/integration/notify-listener.py" "$T/$1.sock" "$T/$1.out" &
        PIDS+=($!)
        wait_until 5 test -S "$T/$1.sock" || fail "notify listener $1 did not start"
}
# stats_ok OUT PYEXPR: the latest X_STATS object in OUT, as s, satisfies PYEXPR.
stats_ok() {
        grep '^X_STATS=' "$1" | tail -1 | cut -d= -f2- |
                python3 -c "import json, sys; s = json.load(sys.stdin); sys.exit(0 if ($2) else 1)"
}
# status_line OUT: the latest STATUS= in OUT, without "STATUS=".
status_line() { grep '^STATUS=' "$1" | tail -1 | cut -d= -f2-; }

# READY=1, then X_STATS with exactly the requests sent. The emperor's interval applies when
# the ini has none.
listen a
P=$(free_port)
NOTIFY_SOCKET="$T/a.sock" EMPEROR_STATS_INTERVAL=1 start_vassal a --http-socket 127.0.0.1:$P \
        --wsgi-file "$APPS/testapp.py" --processes 2 --disable-logging
wait_until 15 grep -qx "READY=1" "$T/a.out" || fail "no READY=1"
ok "READY=1"
for i in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:$P/ || fail "request $i failed"; done
wait_until 10 stats_ok "$T/a.out" 's["requests"] == 50' || fail "no X_STATS with 50 requests: $(grep X_STATS "$T/a.out" | tail -1)"
ok "X_STATS counts exactly the 50 requests"
workers=$(pgrep -P "$a_pid" | sort -n | tr '\n' ' ')
stats_ok "$T/a.out" "s['pid'] == $a_pid and s['version'] and s['load'] == 0 and s['exceptions'] == 0
        and s['listen_queue'] == 0 and len(s['workers']) == 2
        and sorted(w['pid'] for w in s['workers']) == [int(x) for x in '$workers'.split()]
        and [w['id'] for w in s['workers']] == [1, 2]
        and sum(w['requests'] for w in s['workers']) == 50
        and all(w['status'] == 'idle' and w['respawn_count'] == 0 for w in s['workers'])
        and sum(w['tx'] for w in s['workers']) == 50 * len('Hello World\n')
        and all(w['avg_rt'] > 0 and w['running_time'] >= w['avg_rt'] for w in s['workers'] if w['requests'])" ||
        fail "X_STATS fields: $(grep X_STATS "$T/a.out" | tail -1)"
ok "master pid, workers with their pids, requests, tx, avg_rt, idle"
wait_until 5 bash -c "grep -q '^STATUS=2 workers, 0 busy, 50 requests$' '$T/a.out'" ||
        fail "STATUS: $(status_line "$T/a.out")"
ok "STATUS=2 workers, 0 busy, 50 requests"

# An exception counts; a killed worker's slot counts its respawn and keeps its requests.
curl -s -o /dev/null http://127.0.0.1:$P/exception
victim=$(pgrep -P "$a_pid" | head -1)
kill -9 "$victim"
wait_until 10 stats_ok "$T/a.out" 's["exceptions"] == 1 and s["requests"] == 51 and
        sorted(w["respawn_count"] for w in s["workers"]) == [0, 1] and
        all(w["pid"] != '"$victim"' for w in s["workers"])' ||
        fail "exception or respawn not counted: $(grep X_STATS "$T/a.out" | tail -1)"
ok "exceptions and respawn_count counted, requests kept across the respawn"
stop_pid "$a_pid"
grep -qx "STOPPING=1" "$T/a.out" || fail "no STOPPING=1"
ok "STOPPING=1"

# What the stats store needs: errors (5xx responses and exceptions, each request once), the
# p99 of each interval's requests (null for an interval without any), the CPU of the master
# and its workers; all of it sane while workers are killed and respawned.
listen m
P=$(free_port)
NOTIFY_SOCKET="$T/m.sock" start_vassal m --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" \
        --processes 2 --threads 2 --disable-logging --stats-interval 1
wait_until 15 grep -qx "READY=1" "$T/m.out" || fail "no READY=1 (m)"
send() { # send N PATH STATUS: N requests to PATH, each answered STATUS
        local i code
        for i in $(seq "$1"); do
                code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P$2")
                [ "$code" = "$3" ] || fail "$2: status $code, expected $3"
        done
}
# since LINE PYEXPR: every X_STATS after line LINE of m.out is in the list x (oldest first).
since() {
        tail -n +"$(($1 + 1))" "$T/m.out" | grep '^X_STATS=' | cut -d= -f2- | python3 -c "
import json, sys
x = [json.loads(l) for l in sys.stdin]
sys.exit(0 if ($2) else 1)"
}
send 7 / 200
send 2 /nope 404
send 3 /status204 204
send 4 /status500 500
send 5 /exception 500
send 2 /exc-info 503          # the app's own 503: no exception
send 3 /raise-mid-stream 200  # raised after its headers went out: the body is cut short
wait_until 10 stats_ok "$T/m.out" 's["requests"] == 26 and s["errors"] == 14 and s["exceptions"] == 8' ||
        fail "errors: $(grep X_STATS "$T/m.out" | tail -1 | grep -o '"requests".*')"
ok "errors: 4 x 500 + 5 raised + 2 x 503 + 3 raised mid-stream = 14 of 26 (8 exceptions)"
stats_ok "$T/m.out" 'sum(w["errors"] for w in s["workers"]) == 14 and
        s["rt_hist"]["count"] == 26 and len(s["rt_hist"]["counts"]) == len(s["rt_hist"]["le_us"])' ||
        fail "per-worker errors or rt_hist: $(grep X_STATS "$T/m.out" | tail -1 | grep -o '"requests".*')"
ok "per-worker errors add up; rt_hist counts the 26"
wait_until 10 stats_ok "$T/m.out" 's["requests"] == 26 and "p99_rt" in s and s["p99_rt"] is None' ||
        fail "no interval without requests with p99_rt null: $(grep X_STATS "$T/m.out" | tail -1 | grep -o '"requests".*')"
ok "an interval without requests: p99_rt is null, not 0"

mark=$(wc -l <"$T/m.out")
send 20 "/sleep?0.05" 200
wait_until 10 stats_ok "$T/m.out" 's["requests"] == 46' || fail "the 20 sleeps are not counted"
since "$mark" '[s["p99_rt"] for s in x if s.get("p99_rt") is not None] and
        all(50000 <= s["p99_rt"] <= 2000000 for s in x if s.get("p99_rt") is not None)' ||
        fail "p99_rt of 50 ms requests: $(tail -n +$((mark + 1)) "$T/m.out" | grep -o '"p99_rt":[^,]*' | tr '\n' ' ')"
ok "50 ms requests: every interval's p99_rt is within 50 ms .. 2 s ($(tail -n +$((mark + 1)) "$T/m.out" | grep -o '"p99_rt":[0-9]*' | tr '\n' ' '))"

mark=$(wc -l <"$T/m.out")
before=$(grep '^X_STATS=' "$T/m.out" | tail -1 | cut -d= -f2- | python3 -c 'import json, sys; print(json.load(sys.stdin)["cpu_time"])')
send 1 "/spin?1.5" 200
wait_until 10 stats_ok "$T/m.out" 's["requests"] == 47' || fail "the spin is not counted"
since "$mark" "max(s['cpu'] for s in x) > 10 and x[-1]['cpu_time'] - $before >= 300000" ||
        fail "a CPU-bound request: $(tail -n +$((mark + 1)) "$T/m.out" | grep -o '"cpu":.*' | tr '\n' ' ')"
ok "a CPU-bound request: cpu up to $(since "$mark" 'print(max(s["cpu"] for s in x)) or True')%"

# Both workers killed, one of them spinning: the CPU they used counts, nothing goes back or
# past every CPU busy, and the counters survive the respawn.
old_workers=$(pgrep -P "$m_pid" | tr '\n' ' ')
curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$P/spin?5" &
spinner=$!
PIDS+=("$spinner")
# Killed once it has burned CPU for an interval.
wait_until 5 stats_ok "$T/m.out" 's["load"] == 1 and s["cpu"] > 10' || fail "the spin is not in flight"
kill -9 $old_workers
wait "$spinner"
wait_until 10 stats_ok "$T/m.out" "all(w['respawn_count'] == 1 and w['pid'] not in [int(p) for p in '$old_workers'.split()]
        for w in s['workers'])" || fail "workers not respawned: $(grep X_STATS "$T/m.out" | tail -1)"
mark=$(wc -l <"$T/m.out")
wait_until 5 bash -c "[ \$(tail -n +$((mark + 1)) '$T/m.out' | grep -c '^X_STATS=') -ge 2 ]" ||
        fail "no X_STATS after the respawn"
since 0 "all(0 <= s['cpu'] <= 100 * $(nproc) for s in x if 'cpu' in s) and
        all(a['cpu_time'] <= b['cpu_time'] for a, b in zip(x, x[1:]) if 'cpu_time' in a)" ||
        fail "cpu out of range or cpu_time going back: $(grep -o '"cpu":.*' "$T/m.out" | tr '\n' ' ')"
ok "across the respawn: cpu within 0 .. $((100 * $(nproc)))%, cpu_time never goes back"
stats_ok "$T/m.out" 's["requests"] == 47 and s["errors"] == 14 and s["rt_hist"]["count"] == 47' ||
        fail "counters after the respawn: $(grep X_STATS "$T/m.out" | tail -1 | grep -o '"requests".*')"
ok "requests, errors and rt_hist survive the respawn"
stop_pid "$m_pid"

# Busy workers and the listen queue: one worker, one thread, a slow request and three more
# waiting to be accepted.
listen b
P=$(free_port)
NOTIFY_SOCKET="$T/b.sock" start_vassal b --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" \
        --disable-logging --stats-interval 1
wait_until 15 grep -qx "READY=1" "$T/b.out" || fail "no READY=1 (b)"
curl -s -o /dev/null "http://127.0.0.1:$P/sleep?4" &
curls=($!)
wait_until 5 stats_ok "$T/b.out" 's["load"] == 1 and s["workers"][0]["status"] == "busy"' ||
        fail "busy worker not seen: $(grep X_STATS "$T/b.out" | tail -1)"
ok "a busy worker: load 1, status busy"
for i in 1 2 3; do curl -s -o /dev/null http://127.0.0.1:$P/ & curls+=($!); done
wait_until 5 stats_ok "$T/b.out" 's["listen_queue"] == 3' ||
        fail "listen queue not seen: $(grep X_STATS "$T/b.out" | tail -1)"
ok "listen_queue: the 3 connections waiting"
wait_until 10 stats_ok "$T/b.out" 's["requests"] == 4 and s["listen_queue"] == 0 and s["load"] == 0' ||
        fail "queue not drained"
ok "then served"
stop_pid "$b_pid"
wait "${curls[@]}"

# stats-interval = 0 (or EMPEROR_STATS_INTERVAL=0 without the key) sends no X_STATS; the key
# wins over the environment.
listen c
NOTIFY_SOCKET="$T/c.sock" EMPEROR_STATS_INTERVAL=0 start_vassal c --http-socket 127.0.0.1:$(free_port) \
        --wsgi-file "$APPS/testapp.py"
listen d
NOTIFY_SOCKET="$T/d.sock" EMPEROR_STATS_INTERVAL=0 start_vassal d --http-socket 127.0.0.1:$(free_port) \
        --wsgi-file "$APPS/testapp.py" --stats-interval 1
wait_until 15 grep -q "^X_STATS=" "$T/d.out" || fail "stats-interval = 1 did not win over the environment"
ok "the stats-interval key wins over EMPEROR_STATS_INTERVAL"
grep -qx "READY=1" "$T/c.out" || fail "no READY=1 (c)"
sleep 2 # an absence can only be seen by waiting: two intervals of the default
grep -q "^X_STATS=" "$T/c.out" && fail "EMPEROR_STATS_INTERVAL=0 still sent X_STATS"
ok "EMPEROR_STATS_INTERVAL=0 sends none"
stop_pid "$c_pid"
stop_pid "$d_pid"

# exec vassal: X_STATS has the program as its one worker.
listen e
P=$(free_port)
NOTIFY_SOCKET="$T/e.sock" start_vassal e --http-socket 127.0.0.1:$P \
        --exec "/usr/bin/python3 $APPS/fd3server.py" --stats-interval 1
wait_until 15 grep -qx "READY=1" "$T/e.out" || fail "no READY=1 (exec)"
prog=$(pgrep -P "$e_pid")
wait_until 5 stats_ok "$T/e.out" "s['pid'] == $e_pid and len(s['workers']) == 1 and s['workers'][0]['pid'] == $prog" ||
        fail "exec stats: $(grep X_STATS "$T/e.out" | tail -1)"
assert_contains "$(status_line "$T/e.out")" "running (pid $prog), 0 restarts" "exec STATUS names the program"
stop_pid "$e_pid"

# Exit 78: STATUS= says why, one line.
listen f
expect_status() { # expect_status TEXT DESCRIPTION: after a vassal exited 78
        wait_until 5 grep -qF "STATUS=$1" "$T/f.out" || fail "$2: no 'STATUS=$1' in: $(grep STATUS "$T/f.out")"
        ok "$2"
}
n78=0
run78() { # run78 ARGS...: runs a vassal that must exit 78
        n78=$((n78 + 1))
        NOTIFY_SOCKET="$T/f.sock" "$VASSAL" "$@" >"$T/exit78-$n78.log" 2>&1
        local rc=$?
        [ "$rc" = 78 ] || fail "expected exit 78, got $rc from $*"
}
printf '[uwsgi]\nhttp-socket = 127.0.0.1:1\nprocesses = many\nwsgi-file = x.py\nthreads = 0\n' >"$T/bad.ini"
run78 "$T/bad.ini"
expect_status "$T/bad.ini:3: processes: expected a positive integer" "bad ini: the first error with file:line"
grep -q "threads" "$T/f.out" && fail "more than the first error sent"
printf 'import no_such_module_here\n' >"$T/broken.py"
run78 --http-socket 127.0.0.1:$(free_port) --wsgi-file "$T/broken.py"
expect_status "Failed to import the app '$T/broken.py': ModuleNotFoundError: No module named 'no_such_module_here'" \
        "import failure: the exception in one line"
printf 'x = (\n' >"$T/syntax.py"
run78 --http-socket 127.0.0.1:$(free_port) --wsgi-file "$T/syntax.py" --lazy-apps
expect_status "Failed to import the app '$T/syntax.py': SyntaxError: '(' was never closed" \
        "lazy-apps: the worker's import failure reaches the master's STATUS"
run78 --http-socket 127.0.0.1:$(free_port) --wsgi-file "$APPS/testapp.py" --virtualenv "$T/novenv"
expect_status "virtualenv '$T/novenv': no bin/python: No such file or directory" "virtualenv refused"
run78 --http-socket 127.0.0.1:$(free_port) --wsgi-file "$APPS/testapp.py" --uid no-such-user-here
expect_status "command line: uid = no-such-user-here: no such user" "unknown uid"
run78 --http-socket 127.0.0.1:$(free_port) --wsgi-file "$APPS/testapp.py" --chdir "$T/nodir"
expect_status "chdir = $T/nodir: No such file or directory" "chdir failure"
