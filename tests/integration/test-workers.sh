# The master keeps its workers: a killed worker is respawned, max-requests recycles, SIGHUP
# restarts them, SIGTERM lets a request in flight finish, and 3000 threads per worker serve
# 300 slow requests at once.
. "$(dirname "$0")/lib.sh"

worker_pids() { pgrep -P "$1" | sort | tr '\n' ' '; }

P=$(free_port)
SOCK="$T/w.sock"
start_vassal v --http-socket 127.0.0.1:$P --socket "$SOCK" --wsgi-file "$APPS/testapp.py" \
        --processes 2 --max-requests 100 --disable-logging
wait_ready v http://127.0.0.1:$P/
wait_until 5 grep -q "ready:" "$T/v.log" || fail "not ready"
before=$(worker_pids "$v_pid")
set -- $before
assert_eq "$#" "2" "two workers"

# kill -9 one worker: the master respawns it and serving never stops.
kill -9 "$1"
wait_until 10 bash -c "[ \$(pgrep -P $v_pid | wc -l) = 2 ] && ! pgrep -P $v_pid | grep -qx $1" ||
        fail "killed worker not respawned"
ok "killed worker respawned"
assert_file_contains "$T/v.log" "killed by signal Killed" "the kill is logged"
assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "serving after the kill"

# max-requests = 100: 300 requests recycle the workers.
mid=$(worker_pids "$v_pid")
for i in $(seq 300); do curl -s -o /dev/null http://127.0.0.1:$P/; done
wait_until 10 grep -q "max-requests reached" "$T/v.log" || fail "max-requests did not recycle"
ok "max-requests recycles workers"
wait_until 10 bash -c "[ \$(pgrep -P $v_pid | wc -l) = 2 ]" || fail "workers not back after recycling"
[ "$(worker_pids "$v_pid")" != "$mid" ] || fail "same worker pids after max-requests"
ok "new worker pids after max-requests"

# SIGHUP: every worker replaced.
mid=$(worker_pids "$v_pid")
kill -HUP "$v_pid"
wait_until 15 bash -c "[ \$(pgrep -P $v_pid | wc -l) = 2 ] && [ \"\$(pgrep -P $v_pid | sort | tr '\n' ' ')\" != '$mid' ]" ||
        fail "SIGHUP did not replace the workers"
for p in $mid; do kill -0 "$p" 2>/dev/null && pgrep -P "$v_pid" | grep -qx "$p" && fail "old worker $p still there"; done
ok "SIGHUP replaced every worker"
assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "serving after SIGHUP"

# SIGTERM with a request in flight: it completes, then the master exits 0 and cleans up.
curl -s -o "$T/inflight.out" -w '%{http_code}' "http://127.0.0.1:$P/sleep?2" >"$T/inflight.code" &
curl_pid=$!
wait_until 5 bash -c "ss -tn state established '( dport = :$P )' | grep -q $P" || fail "request not in flight"
kill -TERM "$v_pid"
wait "$curl_pid"
assert_eq "$(cat "$T/inflight.code")" "200" "request in flight finishes on SIGTERM"
assert_eq "$(cat "$T/inflight.out")" "slept" "its body is complete"
wait_until 15 bash -c "! kill -0 $v_pid" || fail "master did not exit"
wait "$v_pid"; rc=$?
assert_eq "$rc" "0" "graceful stop exits 0"
[ -e "$SOCK" ] && fail "unix socket left behind"
ok "unix socket removed"
curl -s --max-time 2 http://127.0.0.1:$P/ >/dev/null && fail "port still open after stop"
ok "port closed after stop"

# 3000 threads in one worker: 300 requests sleeping 1 s each run at once.
P=$(free_port)
start_vassal big --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 3000 --disable-logging --listen 1024
wait_until 60 grep -q "ready:" "$T/big.log" || fail "3000 threads did not start"
ok "3000 threads started"
rss=$(ps -o rss= -p "$(pgrep -P "$big_pid")")
echo "  (worker RSS with 3000 threads: $((rss / 1024)) MB)"
out=$(ab -n 300 -c 300 "http://127.0.0.1:$P/sleep?1" 2>&1)
assert_contains "$out" "Failed requests:        0" "300 concurrent requests on 3000 threads"
# They ran at once, on as many threads: the app counts the sleeps it ran concurrently.
n=$(curl -s "http://127.0.0.1:$P/max-in-flight")
[ "$n" -ge 200 ] || fail "only $n requests ran at once on 3000 threads"
ok "$n requests ran at once"
stop_pid "$big_pid" QUIT
ok "SIGQUIT stops at once"

# A URL that kills its worker (os._exit in the request) hit once a second: the workers are
# replaced at once each time, never backed off, so the app stays online between the hits.
P=$(free_port)
start_vassal cr --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 \
        --disable-logging
wait_ready cr http://127.0.0.1:$P/
for i in $(seq 8); do
        curl -s -m 5 -o /dev/null http://127.0.0.1:$P/crash
        sleep 0.5
        code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:$P/)
        [ "$code" = 200 ] || fail "after crash $i the app answers $code: $(grep -i 'respawn\|died' "$T/cr.log" | tail -3)"
done
ok "a request that crashes its worker never takes the app offline (8 crashes)"
assert_file_contains "$T/cr.log" "died serving requests" "such deaths are logged and counted"
grep -q "respawning in" "$T/cr.log" && fail "a crash while serving was backed off"
stop_pid "$cr_pid"
