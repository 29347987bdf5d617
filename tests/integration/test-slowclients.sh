# Slow clients: a head trickled a byte a second is cut off after header-timeout with a 408
# (each byte would restart socket-timeout); bodies trickled at 1 KB every 2 s by more clients
# than there are threads get a 408 once they fall behind body-min-rate, and a normal client is
# served meanwhile, with and without post-buffering; and 5000 idle keep-alive connections,
# more than the soft descriptor limit the vassal was started with, do not stop a new client.
. "$(dirname "$0")/lib.sh"

SLOW="python3 $TOP/tests/integration/slowclient.py"

# ---- a head, a byte a second ----
P=$(free_port)
start_vassal h --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 2 --disable-logging --header-timeout 3
wait_ready h http://127.0.0.1:$P/
out=$($SLOW header $P 1 15 | tail -n 1)
secs=${out##* }
assert_eq "${out% *}" "HTTP/1.1 408 Request Timeout" "a head trickled a byte a second: 408"
awk -v s="$secs" 'BEGIN { exit !(s >= 2.5 && s < 7) }' || fail "cut off after $secs s, want about 3"
ok "... after $secs s (header-timeout = 3; the bytes kept socket-timeout from firing)"
http_ok http://127.0.0.1:$P/ || fail "not serving after the slow head"
stop_pid "$h_pid"

# ---- bodies trickled: 8 clients, 2 x 2 threads ----
for mode in stream post-buffering; do
        P=$(free_port)
        extra=()
        [ $mode = post-buffering ] && extra=(--post-buffering 65536)
        start_vassal "b${mode/-/_}" --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" \
                --processes 2 --threads 2 --disable-logging --body-timeout 2 \
                --body-min-rate 1024 "${extra[@]}"
        wait_ready "b$mode" http://127.0.0.1:$P/
        slow=()
        for i in $(seq 8); do
                $SLOW body $P /sha256 2 1024 30 >"$T/body-$mode-$i.out" 2>&1 &
                slow+=($!)
                PIDS+=($!)
        done
        for i in $(seq 8); do
                wait_until 10 grep -q sent "$T/body-$mode-$i.out" || fail "$mode: slow client $i did not start"
        done
        sleep 0.5 # the threads took them
        t0=$(date +%s.%N)
        code=$(status_of --max-time 20 http://127.0.0.1:$P/)
        t1=$(date +%s.%N)
        assert_eq "$code" 200 "$mode: a normal client among 8 trickling bodies is served"
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
        awk -v s="$secs" 'BEGIN { exit !(s < 12) }' || fail "$mode: the normal client waited $secs s"
        ok "$mode: ... within $secs s"
        for p in "${slow[@]}"; do wait "$p"; done
        for i in $(seq 8); do
                out=$(tail -n 1 "$T/body-$mode-$i.out")
                [ "${out% *}" = "HTTP/1.1 408 Request Timeout" ] ||
                        fail "$mode: trickling client $i got: $out"
                awk -v s="${out##* }" 'BEGIN { exit !(s < 15) }' ||
                        fail "$mode: client $i cut off only after ${out##* } s"
        done
        ok "$mode: each trickling client got a 408 (at 512 B/s, below body-min-rate) within 15 s"
        pid_var="b${mode/-/_}_pid"
        stop_pid "${!pid_var}"
done

# ---- post-buffering: bodies within it are read without a thread ----
# 8 clients trickle 60000-byte bodies (post-buffering 65536) slowly enough to keep them for
# 30 s (body-timeout 30): read from the event set, they hold no thread, and a normal client is
# served at once. Read by threads, they would hold all 4 until cut off.
P=$(free_port)
start_vassal pb --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 \
        --threads 2 --disable-logging --post-buffering 65536 --body-timeout 30
wait_ready pb http://127.0.0.1:$P/
slow=()
for i in $(seq 8); do
        $SLOW body $P /sha256 2 1024 40 60000 >"$T/pb-$i.out" 2>&1 &
        slow+=($!)
        PIDS+=($!)
done
for i in $(seq 8); do
        wait_until 10 grep -q sent "$T/pb-$i.out" || fail "post-buffering: slow client $i did not start"
done
sleep 0.5
code=$(status_of --max-time 3 http://127.0.0.1:$P/)
assert_eq "$code" 200 "post-buffering: a normal client is served at once beside 8 bodies trickling in"
out=$(curl -s --max-time 5 --data-binary "hello body" http://127.0.0.1:$P/echo)
assert_eq "$out" "hello body" "... and a POST with its body whole is answered"
# A body that comes in two parts half a second apart is whole when the app reads it.
out=$(python3 - "$P" <<'PY'
import hashlib, socket, sys, time
body = bytes(range(256)) * 234 + b"end"
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /sha256 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
          % len(body) + body[:30000])
time.sleep(0.5)
s.sendall(body[30000:])
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
want = "%d %s" % (len(body), hashlib.sha256(body).hexdigest())
print("ok" if data.split(b"\r\n\r\n", 1)[-1].decode().strip() == want else data.decode())
PY
)
assert_eq "$out" ok "post-buffering: a body in two parts reaches the app whole"
for p in "${slow[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
stop_pid "$pb_pid"

# ---- 5000 idle keep-alive connections ----
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 12000 ]; then
        echo "  skip: 5000 idle connections need a hard descriptor limit of 12000 (have $(ulimit -Hn))"
        exit 0
fi
P=$(free_port)
# Started with the usual soft limit of 1024 (systemd's default): the vassal raises it.
(ulimit -Sn 1024 && exec "$VASSAL" --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" \
        --processes 2 --threads 2 --disable-logging) >"$T/idle.log" 2>&1 &
idle_pid=$!
PIDS+=("$idle_pid")
wait_ready idle http://127.0.0.1:$P/
$SLOW idle $P 5000 10 >"$T/idle-client.out" 2>&1 &
PIDS+=($!)
wait_until 60 grep -q "5000 open" "$T/idle-client.out" ||
        fail "5000 keep-alive connections did not open: $(cat "$T/idle-client.out")"
ok "5000 keep-alive connections open and idle"
t0=$(date +%s.%N)
code=$(status_of --max-time 5 http://127.0.0.1:$P/)
assert_eq "$code" 200 "a new client is served beside them"
for i in 1 2 3; do
        code=$(status_of --max-time 5 -H "Connection: close" http://127.0.0.1:$P/sleep?0.1)
        [ "$code" = 200 ] || fail "new client $i: $code"
done
ok "... and more after it"
wait_until 20 grep -q "still open" "$T/idle-client.out" || fail "the idle client did not finish"
assert_contains "$(cat "$T/idle-client.out")" "5000 still open" "the idle connections were kept (keepalive-timeout 30 s)"
grep -q "pausing" "$T/idle.log" && fail "a worker ran out of descriptors: $(grep pausing "$T/idle.log" | head -1)"
ok "no worker ran out of descriptors"
stop_pid "$idle_pid"
