# Thousands of threads: 2 processes x 3000 threads start, serve `ab -c 1000` of a request that
# sleeps 0.2 s with none failed, spread over both processes, and stop within reload-mercy.
# Prints the memory an idle thread costs (a worker's RSS with 3000 threads against one with 1).
. "$(dirname "$0")/lib.sh"

command -v ab >/dev/null || fail "ab is not installed (make deps)"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 4096 ] || ulimit -Sn "$(ulimit -Hn)"

# rss_of_workers PID: the workers' VmRSS in kB, summed.
rss_of_workers() {
        local p s=0
        for p in $(pgrep -P "$1"); do s=$((s + $(awk '/^VmRSS/ { print $2 }' /proc/$p/status))); done
        echo $s
}

P=$(free_port)
start_vassal one --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 1 --disable-logging
wait_ready one http://127.0.0.1:$P/
rss1=$(rss_of_workers "$one_pid")
info=$(curl -s http://127.0.0.1:$P/pyinfo)
python3 -c 'import json, sys; i = json.loads(sys.argv[1]); sys.exit(not (i["frozen"] > 1000 and abs(i["switch_interval"] - 0.005) < 1e-6))' "$info" ||
        fail "1 thread: want the app's objects frozen and Python's 5 ms switch interval: $info"
ok "1 thread: the app's objects are frozen (gc-freeze), the switch interval is 5 ms ($info)"
stop_pid "$one_pid"
P=$(free_port)
start_vassal nofreeze --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 2 --disable-logging --gc-freeze false --switch-interval 20
wait_ready nofreeze http://127.0.0.1:$P/
info=$(curl -s http://127.0.0.1:$P/pyinfo)
python3 -c 'import json, sys; i = json.loads(sys.argv[1]); sys.exit(not (i["frozen"] == 0 and abs(i["switch_interval"] - 0.02) < 1e-6))' "$info" ||
        fail "gc-freeze false, switch-interval 20: $info"
ok "gc-freeze = false freezes nothing, switch-interval = 20 gives 20 ms"
stop_pid "$nofreeze_pid"

P=$(free_port) SP=$(free_port)
start_vassal big --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 \
        --threads 3000 --listen 4096 --reload-mercy 20 --disable-logging \
        --stats 127.0.0.1:$SP --stats-http
wait_until 60 http_ok http://127.0.0.1:$P/ || fail "2 x 3000 threads did not come up"
wait_until 30 grep -q "ready: 2 worker(s) x 3000 thread(s)" "$T/big.log" || fail "not ready"
ok "2 processes x 3000 threads up"
info=$(curl -s http://127.0.0.1:$P/pyinfo)
python3 -c 'import json, sys; sys.exit(abs(json.loads(sys.argv[1])["switch_interval"] - 0.1) > 1e-6)' "$info" ||
        fail "3000 threads: want a 100 ms switch interval: $info"
ok "3000 threads: the switch interval grew to 100 ms"
for w in $(pgrep -P "$big_pid"); do
        [ "$(ls /proc/$w/task | wc -l)" -ge 3000 ] || fail "worker $w has $(ls /proc/$w/task | wc -l) threads"
done
rss=$(rss_of_workers "$big_pid")
echo "  memory: a worker with 3000 idle threads $((rss / 2)) kB, with 1 thread $rss1 kB:" \
        "$(( (rss / 2 - rss1) / 2999 )) kB per idle thread"

out=$(ab -s 30 -n 2000 -c 1000 "http://127.0.0.1:$P/sleep?0.2" 2>&1)
assert_contains "$out" "Complete requests:      2000" "ab -n 2000 -c 1000 of a 0.2 s request: all complete"
assert_contains "$out" "Failed requests:        0" "... none failed"
case "$out" in *"Non-2xx"*) fail "non-2xx responses: $out" ;; esac
echo "  ($(printf '%s\n' "$out" | grep -E 'Requests per second|  99%' | tr -s ' ' | tr '\n' ';'))"
counts=$(curl -s --max-time 5 http://127.0.0.1:$SP/ | python3 -c '
import json, sys
print(" ".join(str(w["requests"]) for w in json.load(sys.stdin)["workers"]))')
for c in $counts; do
        [ "$c" -ge 500 ] || fail "the requests did not spread over the 2 workers: $counts"
done
ok "both workers served (requests per worker: $counts)"

t0=$SECONDS
kill -TERM "$big_pid"
for _ in $(seq 250); do kill -0 "$big_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$big_pid" 2>/dev/null && fail "2 x 3000 threads did not stop within reload-mercy (20 s)"
wait "$big_pid"
ok "stopped in $((SECONDS - t0)) s (reload-mercy 20 s)"
grep -q "SIGKILL\|killed" "$T/big.log" && fail "a worker had to be killed: $(grep -m1 'SIGKILL\|killed' "$T/big.log")"
ok "no worker was killed"
