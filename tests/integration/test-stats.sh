# The stats server (`stats = ADDR`): uWSGI's JSON over raw TCP, a unix socket and stats-http,
# with request counters that match what was sent, fields uwsgitop reads, request data that
# stays valid JSON whatever bytes the URI holds, and the listen queue: a full one is counted in
# listen_queue_errors and logged as "listen queue of socket ... full".
. "$(dirname "$0")/lib.sh"

# fetch ADDR: the raw stats at ADDR (HOST:PORT or a unix path), read until the server closes.
fetch() {
        python3 - "$1" <<'EOF'
import socket, sys
addr = sys.argv[1]
if ":" in addr:
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
else:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(addr)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.buffer.write(data)
EOF
}
# check PYEXPR < JSON: the object (strictly parsed: valid UTF-8, valid JSON) as s satisfies it.
check() {
        python3 -c "
import json, sys
s = json.loads(sys.stdin.buffer.read().decode('utf-8'))
sys.exit(0 if ($1) else 1)"
}
raw_ok() { fetch "$1" | check "$2"; }
http_ok_stats() { curl -s --max-time 5 "http://$1/" | check "$2"; }

# A stats address that is none is a config error, found by --check (a word without ':' is a
# unix socket path, as in uWSGI).
out=$("$VASSAL" --check --http-socket 127.0.0.1:1 --wsgi-file x.py --stats 127.0.0.1:99999 2>&1)
assert_eq "$?" "78" "stats = 127.0.0.1:99999: --check exits 78"
assert_contains "$out" "stats: '127.0.0.1:99999' is not an address" "... and says why"

# ---- raw TCP: exactly N requests counted ----
P=$(free_port) SP=$(free_port)
start_vassal a --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 --threads 2 \
        --disable-logging --stats 127.0.0.1:$SP
wait_ready a http://127.0.0.1:$P/
N=37
for i in $(seq $N); do curl -sf -o /dev/null http://127.0.0.1:$P/ || fail "request $i failed"; done
# wait_ready sent one more.
wait_until 5 raw_ok 127.0.0.1:$SP "s['requests'] == $N + 1" ||
        fail "raw stats do not count $N + 1 requests: $(fetch 127.0.0.1:$SP | head -c 400)"
raw_ok 127.0.0.1:$SP "sum(w['requests'] for w in s['workers']) == $N + 1 and
        sum(w['delta_requests'] for w in s['workers']) == $N + 1 and
        sum(c['requests'] for w in s['workers'] for c in w['cores']) == $N + 1" ||
        fail "per worker or per core counters: $(fetch 127.0.0.1:$SP | head -c 600)"
ok "raw TCP: the JSON parses, requests = $N + 1, per worker and per core too"
workers=$(pgrep -P "$a_pid" | sort -n | tr '\n' ' ')
raw_ok 127.0.0.1:$SP "s['pid'] == $a_pid and s['version'] and s['cwd'] and
        s['uid'] == $(id -u) and s['gid'] == $(id -g) and s['listen_queue'] == 0 and
        s['listen_queue_errors'] == 0 and s['load'] == 0 and
        s['sockets'] == [{'name': '127.0.0.1:$P', 'proto': 'http', 'queue': 0,
                          'max_queue': s['sockets'][0]['max_queue'], 'shared': 0, 'can_offload': 0}] and
        sorted(w['pid'] for w in s['workers']) == [int(x) for x in '$workers'.split()] and
        all(len(w['cores']) == 2 and w['status'] == 'idle' and w['accepting'] == 1 for w in s['workers'])" ||
        fail "top-level fields: $(fetch 127.0.0.1:$SP | head -c 600)"
ok "pid, uid, gid, cwd, version, sockets, workers with their pids and 2 cores each"
# Every field uwsgitop reads (github.com/xrmx/uwsgitop), with its types.
fetch 127.0.0.1:$SP | python3 -c '
import json, sys
dd = json.load(sys.stdin)
for k in ("version", "listen_queue", "cwd", "uid", "gid", "pid", "workers"):
    assert k in dd, k
for w in dd["workers"]:
    "%d %d %d %d %s %dms %d %d %d %d %d %s %s" % (w["id"], w["pid"], w["requests"], w["exceptions"],
        w["status"], w["avg_rt"] / 1000, w["rss"], w["vsz"], w["tx"], w["respawn_count"],
        w["harakiri_count"], w["running_time"] / 1000, w["last_spawn"])
    for c in w["cores"]:
        c["id"], c["requests"], c["in_request"]
' || fail "a field uwsgitop reads is missing"
ok "every field uwsgitop reads is there"
# Beyond uWSGI's: errors, the response time histogram, and the master's last interval (the
# stats server has it without NOTIFY_SOCKET).
wait_until 5 raw_ok 127.0.0.1:$SP "'p99_rt' in s and s['cpu'] >= 0 and s['cpu_time'] > 0" ||
        fail "no p99_rt, cpu or cpu_time: $(fetch 127.0.0.1:$SP | grep -o '"requests".*')"
raw_ok 127.0.0.1:$SP "s['errors'] == 0 and s['rt_hist']['count'] == $N + 1 and
        s['rt_hist']['counts'] == sorted(s['rt_hist']['counts']) and
        s['rt_hist']['counts'][-1] <= $N + 1 and s['rt_hist']['sum_us'] > 0 and
        len(s['rt_hist']['le_us']) == len(s['rt_hist']['counts'])" ||
        fail "errors or rt_hist: $(fetch 127.0.0.1:$SP | grep -o '"requests".*')"
ok "errors, rt_hist (count = $N + 1, cumulative) and the last interval's p99_rt and cpu"

# ---- a request in flight with '"', '\', %FF and a raw 0xFF byte in its URI ----
python3 - "$P" <<'EOF' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b'GET /stuck?6&q="a\\b"%FF\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
while s.recv(65536):
    pass
EOF
weird=$!
PIDS+=("$weird")
want='/stuck?6&q="a\b"%FF'$'\xef\xbf\xbd'
wait_until 5 raw_ok 127.0.0.1:$SP "any(c['in_request'] for w in s['workers'] for c in w['cores'])" ||
        fail "the request in flight is not in the stats"
fetch 127.0.0.1:$SP | WANT="$want" check "
[v for w in s['workers'] for c in w['cores'] if c['in_request'] for v in c['vars']] ==
        ['REQUEST_METHOD=GET', 'REQUEST_URI=' + __import__('os').environ['WANT']]
and all(c['req_info']['request_start'] > 0 for w in s['workers'] for c in w['cores'] if c['in_request'])
and s['load'] == 1" ||
        fail "the request's vars: $(fetch 127.0.0.1:$SP | grep -ao '"vars":[^]]*]')"
ok "a URI with '\"', '\\', %FF and a raw 0xFF byte: valid JSON, the byte as U+FFFD"
wait "$weird"
stop_pid "$a_pid"

# ---- unix socket ----
P=$(free_port)
start_vassal u --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --disable-logging --stats "$T/stats.sock"
wait_ready u http://127.0.0.1:$P/
for i in $(seq 9); do curl -sf -o /dev/null http://127.0.0.1:$P/ || fail "request $i failed"; done
wait_until 5 raw_ok "$T/stats.sock" "s['requests'] == 10 and len(s['workers']) == 1" ||
        fail "unix stats: $(fetch "$T/stats.sock" | head -c 400)"
ok "unix socket: the JSON parses, requests = 10"
# A reload re-executes the master: the stats socket comes back with the new workers (no worker
# keeps the old one).
old=$(pgrep -P "$u_pid")
kill -HUP "$u_pid"
wait_until 15 raw_ok "$T/stats.sock" "s['pid'] == $u_pid and s['workers'][0]['pid'] not in (0, $old)" ||
        fail "no stats with the new worker after SIGHUP: $(fetch "$T/stats.sock" | head -c 300)"
ok "after a reload (SIGHUP) the stats answer with the new worker"
stop_pid "$u_pid"
[ -e "$T/stats.sock" ] && fail "the stats socket file is left behind"
ok "its socket file is removed at exit"

# ---- stats-http, and the listen queue: listen = 4, one thread, one slow request, 20 waiting ----
# (the slow request lasts 12 s: starting 20 clients and seeing the warning may take seconds on a
# loaded machine, and the queue must still be full then)
P=$(free_port) SP=$(free_port)
start_vassal h --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 1 --listen 4 --disable-logging --stats 127.0.0.1:$SP --stats-http
wait_ready h http://127.0.0.1:$P/
head=$(curl -s -D - -o "$T/stats.json" --max-time 5 http://127.0.0.1:$SP/)
assert_contains "$head" "HTTP/1.0 200 OK" "stats-http: a 200 response"
assert_contains "$head" "Content-Type: application/json" "... of application/json"
check "s['requests'] == 1 and s['workers'][0]['pid'] > 0" <"$T/stats.json" ||
        fail "stats-http body: $(head -c 400 "$T/stats.json")"
ok "... whose body is the stats JSON"
curl -s -o /dev/null "http://127.0.0.1:$P/sleep?12" &
PIDS+=($!)
wait_until 5 http_ok_stats 127.0.0.1:$SP "s['load'] == 1" || fail "the slow request is not in flight"
waiting=()
for i in $(seq 20); do
        curl -s -o /dev/null --max-time 30 http://127.0.0.1:$P/ &
        waiting+=($!)
        PIDS+=($!)
done
wait_until 5 grep -q "listen queue of socket '127.0.0.1:$P' full (5/4)" "$T/h.log" ||
        fail "no listen queue warning"
ok "\"listen queue of socket '127.0.0.1:$P' full (5/4)\" logged"
http_ok_stats 127.0.0.1:$SP "s['listen_queue'] == 5 and s['listen_queue_errors'] >= 1 and
        s['sockets'][0]['queue'] == 5 and s['sockets'][0]['max_queue'] == 4" ||
        fail "stats during the overflow: $(curl -s http://127.0.0.1:$SP/ | head -c 400)"
ok "the stats show the full queue (5/4) and count listen_queue_errors"
sleep 2 # one warning a minute: two more seconds of a full queue stay quiet
[ "$(grep -c "listen queue of socket" "$T/h.log")" = 1 ] || fail "the warning repeats within a minute"
ok "the warning is not repeated within the minute"
# Once the slow request ends, every waiting client is served.
for p in "${waiting[@]}"; do wait "$p" || fail "a queued client failed"; done
ok "then every queued client is served"
stop_pid "$h_pid"
