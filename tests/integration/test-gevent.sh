# gevent = N: one worker process serves thousands of slow requests at once in greenlets, with
# everything else the vassal does: the request log, bad requests (4xx), post-buffering,
# keep-alive, stats (busy = greenlets in flight), harakiri naming the stuck request,
# max-requests, and chain and graceful reloads under load with no failed request. --check
# refuses what the engine does not serve, citing file:line; a vassal whose Python has no
# gevent exits 78 and says so.
. "$(dirname "$0")/lib.sh"
# Not under ASan: greenlet switches by copying slices of the C stack in and out, so the
# shadow memory ASan keeps for a stack address describes whatever frame was there before the
# switch (its memcpy of redzones is reported, then its stale shadow trips ASan's own CHECK in
# asan_thread.cpp). The two cannot run together; uWSGI's gevent plugin is in the same place.
if ldd "$VASSAL" 2>/dev/null | grep -q libasan; then
        echo "  skipped: greenlet's stack switching and AddressSanitizer do not mix"
        exit 0
fi

/usr/bin/python3 -c 'import gevent' 2>/dev/null ||
        fail "python3-gevent is not installed (apt-get install python3-gevent)"
command -v wrk >/dev/null || fail "wrk is not installed (make deps)"
GAPP="$APPS/geventapp.py"
CLIENT="$TOP/tests/integration/concurrent-client.py"

# ---- --check: what gevent does not serve is refused where it is written ----
printf '[uwsgi]\nhttp-socket = :1\nwsgi-file = x.py\nthreads = 4\ngevent = 100\n' >"$T/gt.ini"
out=$("$VASSAL" --check "$T/gt.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "--check: gevent with threads = 4 exits 78"
assert_contains "$out" "$T/gt.ini:5: gevent: not supported together with 'threads = 4'" \
        "... citing the gevent line"
printf '[uwsgi]\nhttp-socket = :1\nwsgi-file = x.py\ngevent-monkey-patch = true\n' >"$T/gm.ini"
out=$("$VASSAL" --check "$T/gm.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "--check: gevent-monkey-patch without gevent exits 78"
assert_contains "$out" "$T/gm.ini:4: gevent-monkey-patch: needs 'gevent = N'" "... citing its line"
printf '[uwsgi]\nexec = /bin/true\ngevent = 10\n' >"$T/ge.ini"
out=$("$VASSAL" --check "$T/ge.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "--check: gevent with exec exits 78"
assert_contains "$out" "$T/ge.ini:3: gevent: not supported with 'exec'" "... citing its line"
out=$("$VASSAL" --check --http-socket :1 --wsgi-file x.py --gevent 100001 2>&1); rc=$?
assert_eq "$rc" "78" "--check: gevent past its bound exits 78"
printf '[uwsgi]\nhttp-socket = :1\nwsgi-file = x.py\ngevent = 1000\ngevent-monkey-patch = 1\n' >"$T/g.ini"
assert_eq "$("$VASSAL" --check "$T/g.ini" 2>&1)" "$T/g.ini: OK" "--check accepts gevent = 1000 with monkey-patching"

# ---- a Python without gevent: exit 78, with the reason ----
/usr/bin/python3 -m venv --without-pip "$T/venv" || fail "cannot make a virtualenv"
printf '[uwsgi]\nhttp-socket = :1\nwsgi-file = x.py\nvirtualenv = %s\ngevent = 10\n' "$T/venv" >"$T/gv.ini"
out=$("$VASSAL" --check "$T/gv.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "--check: gevent in a virtualenv without gevent exits 78"
assert_contains "$out" "$T/gv.ini:5: gevent: gevent does not import in '$T/venv/bin/python': ModuleNotFoundError: No module named 'gevent'" \
        "... citing the gevent line and the import error"
P=$(free_port)
"$VASSAL" --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --gevent 10 --virtualenv "$T/venv" \
        >"$T/nogevent.log" 2>&1 </dev/null &
nog=$!
PIDS+=("$nog")
wait "$nog"; rc=$?
assert_eq "$rc" "78" "gevent without the gevent module (a bare virtualenv) exits 78"
assert_file_contains "$T/nogevent.log" \
        "gevent = 10: importing gevent failed: ModuleNotFoundError: No module named 'gevent'" \
        "... saying gevent does not import"

# ---- 2000 concurrent slow requests from one process ----
read -r P U < <(free_ports 2 | tr '\n' ' ')
start_vassal c --http-socket 127.0.0.1:$P --socket 127.0.0.1:$U --wsgi-file "$GAPP" \
        --processes 1 --gevent 2100 --listen 4096 --stats "$T/c.stats"
wait_ready c http://127.0.0.1:$P/
python3 "$CLIENT" $P "/sleep?3" 2000 >"$T/c.json" &
client=$!
# Mid-load: the stats show the greenlets in flight as the worker's busy cores.
busy_cores() {
        python3 - "$T/c.stats" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
w = json.loads(data)["workers"][0]
n = sum(c["in_request"] for c in w["cores"])
print(n if w["status"] == "busy" else 0)
EOF
}
busy=0
busy_at_least() { busy=$(busy_cores); [ "$busy" -ge "$1" ] 2>/dev/null; }
wait_until 10 busy_at_least 1000 || fail "the stats never showed 1000 greenlets busy (last: $busy)"
ok "the stats show $busy greenlets in flight in worker 1"
wait "$client" || fail "the client failed"
summary=$(cat "$T/c.json")
echo "    $summary"
assert_contains "$summary" '"ok": 2000, "failed": 0' "2000 concurrent requests sleeping 3 s: all 200 with their own body"
assert_contains "$summary" '"pids": [' "..."
[ "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["pids"]))' <"$T/c.json")" = 1 ] ||
        fail "answered by more than one process: $summary"
ok "... all from one worker process"
max=$(curl -s http://127.0.0.1:$P/max)
[ "$max" -ge 1500 ] || fail "only $max requests were in the app at once"
ok "... $max of them in the app at once"
assert_eq "$(grep -c 'POST /sleep?3 => generated .* (HTTP/1\.[01] 200)' "$T/c.log")" "2000" "each is in the request log"

# ---- bad requests get their 4xx, and the worker goes on ----
out=$(printf 'GARBAGE\r\n\r\n' | raw $P)
assert_contains "$out" "HTTP/1.1 400" "a malformed request line: 400"
out=$(python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 20000 + "\r\n\r\n")' | raw $P)
assert_contains "$out" "HTTP/1.1 431" "a head past buffer-size: 431"
out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n' | raw $P 8)
assert_contains "$out" "HTTP/1.1 408" "a head that stalls past socket-timeout: 408"
out=$(printf 'POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n' | raw $P)
assert_contains "$out" "HTTP/1.1 400" "Content-Length with Transfer-Encoding: 400"
# Keep-alive: two requests, one connection, both answered.
out=$(printf 'GET /pid HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P)
assert_eq "$(printf '%s' "$out" | grep -o 'HTTP/1.1 200' | wc -l)" "2" "keep-alive: two pipelined requests on one connection"
# The uwsgi protocol (nginx's uwsgi_pass) goes through the same greenlets.
out=$(python3 "$TOP/tests/integration/uwsgi-packet.py" GET /pid | raw $U)
assert_contains "$out" "HTTP/1.1 200" "a uwsgi-protocol request is served"
assert_contains "$out" "$(curl -s http://127.0.0.1:$P/pid)" "... by the same worker"

# Slow clients hold their greenlet only: bodies and a head that stall 3 s midway, while a
# normal request is answered at once.
python3 "$TOP/tests/integration/slow-clients.py" $P >"$T/slow.out" &
slow=$!
sleep 0.5
t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 10 http://127.0.0.1:$P/)
python3 -c "import sys; sys.exit(0 if float('$t') < 1.5 else 1)" ||
        fail "a request waited $t s behind slow clients"
ok "a request is answered in $t s while four clients stall mid-request"
wait "$slow"
[ "$(grep -c '^HTTP/1.1 200' "$T/slow.out")" = 4 ] ||
        fail "the slow clients were not all answered 200: $(tr '\n' '|' <"$T/slow.out")"
ok "... and the slow clients are answered too"
stop_pid "$c_pid"

# ---- post-buffering: a body read before the app, in memory and past it on disk ----
P=$(free_port)
start_vassal pb --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --gevent 50 --post-buffering 4096 \
        --limit-post 2000000
wait_ready pb http://127.0.0.1:$P/
head -c 1000000 /dev/zero >"$T/big"
assert_eq "$(curl -s --data-binary @"$T/big" http://127.0.0.1:$P/len)" "1000000" \
        "post-buffering: a 1 MB body reaches the app whole"
assert_eq "$(curl -s --data-binary 'abc' http://127.0.0.1:$P/len)" "3" "... and a small one"
head -c 3000000 /dev/zero >"$T/huge"
assert_eq "$(status_of --data-binary @"$T/huge" http://127.0.0.1:$P/len)" "413" "past limit-post: 413"
stop_pid "$pb_pid"

# ---- slow clients: the deadlines of threads mode (test-slowclients.sh) hold for greenlets ----
# A head sent a byte every 2 s is cut off when header-timeout passes (each byte would restart
# socket-timeout); a body trickled at 512 B/s falls behind body-min-rate and is cut off when
# body-timeout plus a second per KB received runs out, read by the app (wsgi.input) or by
# post-buffering.
SLOW="python3 $TOP/tests/integration/slowclient.py"
for mode in stream post-buffering; do
        P=$(free_port)
        extra=()
        [ $mode = post-buffering ] && extra=(--post-buffering 65536)
        v="sc${mode/-/_}"
        start_vassal "$v" --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --gevent 50 \
                --disable-logging --header-timeout 3 --body-timeout 2 --body-min-rate 1024 \
                "${extra[@]}"
        wait_ready "$v" http://127.0.0.1:$P/
        $SLOW header $P 2 15 >"$T/$v-head.out" 2>&1 &
        head_client=$!
        $SLOW body $P /len 1 512 20 >"$T/$v-body.out" 2>&1 &
        body_client=$!
        PIDS+=("$head_client" "$body_client")
        wait "$head_client" "$body_client"
        out=$(tail -n 1 "$T/$v-head.out")
        assert_eq "${out% *}" "HTTP/1.1 408 Request Timeout" "$mode: a head trickled a byte every 2 s: 408"
        awk -v s="${out##* }" 'BEGIN { exit !(s >= 2.5 && s < 7) }' ||
                fail "$mode: the head was cut off after ${out##* } s, want about 3 (header-timeout)"
        ok "... after ${out##* } s (header-timeout = 3)"
        out=$(tail -n 1 "$T/$v-body.out")
        assert_eq "${out% *}" "HTTP/1.1 408 Request Timeout" "$mode: a body trickled below body-min-rate: 408"
        # 512 B a second from t = 1: 2 s, plus 1 s for the KB in by t = 2, run out at t = 3,
        # as the next piece comes (each byte bought time: not cut at body-timeout alone).
        awk -v s="${out##* }" 'BEGIN { exit !(s >= 2.5 && s < 7) }' ||
                fail "$mode: the body was cut off after ${out##* } s, want about 3"
        ok "... after ${out##* } s (body-timeout = 2, body-min-rate = 1 KB/s, sent 512 B/s)"
        http_ok http://127.0.0.1:$P/ || fail "$mode: not serving after the slow clients"
        pid_var="${v}_pid"
        stop_pid "${!pid_var}"
done

# ---- gevent-monkey-patch ----
P=$(free_port)
start_vassal mp --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --gevent 10 --gevent-monkey-patch
wait_ready mp http://127.0.0.1:$P/
assert_eq "$(curl -s http://127.0.0.1:$P/patched)" "True" "gevent-monkey-patch: time is gevent's in the app"
stop_pid "$mp_pid"
P=$(free_port)
start_vassal np --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --gevent 10
wait_ready np http://127.0.0.1:$P/
assert_eq "$(curl -s http://127.0.0.1:$P/patched)" "False" "... and without it, nothing is patched"
stop_pid "$np_pid"

# ---- harakiri: a greenlet blocking its worker is killed, and the log names its request ----
P=$(free_port)
start_vassal h --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --processes 1 --gevent 100 \
        --harakiri 2 --harakiri-verbose
wait_ready h http://127.0.0.1:$P/
old=$(curl -s http://127.0.0.1:$P/pid)
# Two greenlets in gevent.sleep are in flight too; the stuck one is the oldest.
curl -s -o /dev/null --max-time 9 -d '{}' "http://127.0.0.1:$P/sleep?5" &
sleeper1=$!
sleep 0.3
curl -s -o "$T/stuck.out" --max-time 9 "http://127.0.0.1:$P/stuck?10" &
stuck=$!
sleep 0.2
curl -s -o /dev/null --max-time 9 -d '{}' "http://127.0.0.1:$P/sleep?5" &
sleeper2=$!
wait "$stuck"
[ "$(cat "$T/stuck.out" 2>/dev/null)" = "unstuck" ] && fail "the stuck request completed instead of being killed"
wait_until 5 grep -q "killed by signal Killed" "$T/h.log" || fail "the worker was not killed"
assert_file_contains "$T/h.log" "HARAKIRI: worker 1 (pid $old) has been serving POST /sleep?5 for 2." \
        "harakiri kills the worker, naming its oldest request"
grep -Eq "pid $old greenlet [0-9]+ holds the hub: GET /stuck\?10 running for" "$T/h.log" ||
        fail "harakiri-verbose does not name the greenlet holding the hub"
ok "harakiri-verbose names the greenlet that holds the hub: GET /stuck?10"
assert_file_contains "$T/h.log" ", in stuck_greenlet" "... and logs its stack"
new=$(curl -s --max-time 5 http://127.0.0.1:$P/pid)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "no new worker after harakiri ('$old' -> '$new')"
ok "a new worker serves ($old -> $new)"
wait "$sleeper1" "$sleeper2"
stop_pid "$h_pid"

# Alone, the stuck request is the oldest: the HARAKIRI line itself names it.
P=$(free_port)
start_vassal q --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --processes 1 --gevent 100 \
        --harakiri 1
wait_ready q http://127.0.0.1:$P/
old=$(curl -s http://127.0.0.1:$P/pid)
curl -s -o /dev/null --max-time 9 "http://127.0.0.1:$P/stuck?10"
wait_until 5 grep -q "killed by signal Killed" "$T/q.log" || fail "harakiri = 1 did not kill"
assert_file_contains "$T/q.log" "HARAKIRI: worker 1 (pid $old) has been serving GET /stuck?10 for 1." \
        "harakiri names the stuck greenlet's request"
stop_pid "$q_pid"

# ---- max-requests: the worker recycles after 30 requests, finishing those in flight ----
P=$(free_port)
start_vassal m --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --processes 1 --gevent 100 \
        --max-requests 30 --disable-logging
wait_ready m http://127.0.0.1:$P/
first=$(curl -s http://127.0.0.1:$P/pid)
python3 "$CLIENT" $P "/sleep?0.2" 60 >"$T/m.json" || fail "the client failed"
assert_contains "$(cat "$T/m.json")" '"failed": 0' "60 concurrent requests across a max-requests recycle: none failed"
wait_until 5 grep -q "worker 1 stopping (max-requests reached: 30)" "$T/m.log" ||
        fail "worker 1 did not recycle at 30"
ok "worker 1 stops at max-requests = 30"
wait_until 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$P/pid)\" != $first ]" ||
        fail "no new worker after max-requests"
ok "a new worker took over"
stop_pid "$m_pid"

# ---- chain and graceful reloads under keep-alive load: nothing fails ----
P=$(free_port)
start_vassal r --http-socket 127.0.0.1:$P --wsgi-file "$GAPP" --processes 2 --gevent 200 \
        --disable-logging
wait_ready r http://127.0.0.1:$P/
cat >"$T/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"k": 1}'
wrk.headers["Content-Type"] = "application/json"
EOF
wrk -t2 -c100 -d300s -s "$T/post.lua" "http://127.0.0.1:$P/sleep?0.05" >"$T/wrk.out" 2>&1 &
wrk_pid=$!
PIDS+=("$wrk_pid")
sleep 1
for i in 1 2 3 4; do
        n=$(grep -c 'reloaded:' "$T/r.log")
        if [ $((i % 2)) = 1 ]; then kill -USR2 "$r_pid"; else kill -HUP "$r_pid"; fi
        wait_until 30 bash -c "[ \$(grep -c 'reloaded:' '$T/r.log') -gt $n ]" ||
                fail "reload $i did not complete"
        sleep 0.5
done
ok "2 chain and 2 graceful reloads under load"
kill -INT "$wrk_pid"
wait "$wrk_pid" 2>/dev/null
sed 's/^/    /' "$T/wrk.out" | grep -E "requests in|Socket|Non-2xx"
grep -q "Socket errors" "$T/wrk.out" && fail "wrk saw socket errors during reloads"
grep -q "Non-2xx" "$T/wrk.out" && fail "wrk saw non-2xx responses during reloads"
grep -q "requests in" "$T/wrk.out" || fail "wrk did not report"
ok "no failed, reset or non-2xx request"
stop_pid "$r_pid"
