# The master's guards: harakiri (a stuck request's worker is killed and replaced; with
# harakiri-verbose its requests and Python stacks are logged first), max-requests with
# max-requests-delta (workers recycle at different counts), reload-on-rss (a leaking worker is
# replaced gracefully) and memory-report (address space and rss in each request line).
. "$(dirname "$0")/lib.sh"

# stats SOCKET PYEXPR: the stats JSON from a unix stats socket, as s, satisfies PYEXPR.
stats_ok() {
        python3 - "$1" "$2" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
s = json.loads(data)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# ---- harakiri = 2 with harakiri-verbose: a handler in time.sleep(10) ----
P=$(free_port)
start_vassal h --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 2 --harakiri 2 --harakiri-verbose --stats "$T/h.stats"
wait_ready h http://127.0.0.1:$P/
old=$(curl -s http://127.0.0.1:$P/pid)
t=$(curl -s -o "$T/stuck.out" -w '%{time_total}' --max-time 9 "http://127.0.0.1:$P/stuck?10")
python3 -c "import sys; sys.exit(0 if float('$t') < 4.5 else 1)" ||
        fail "the stuck request ended after $t s, not within harakiri (2 s) + 2 s"
ok "the stuck client got its answer (a closed connection) after $t s"
[ "$(cat "$T/stuck.out")" = "unstuck" ] && fail "the stuck request completed instead of being killed"
wait_until 5 grep -q "killed by signal Killed" "$T/h.log" || fail "the worker was not killed"
assert_file_contains "$T/h.log" "HARAKIRI: worker 1 (pid $old) has been serving GET /stuck?10 for 2." \
        "the harakiri line names the worker, its pid, the method and the path"
assert_file_contains "$T/h.log" "pid $old thread " "harakiri-verbose: the worker lists its requests"
assert_file_contains "$T/h.log" "GET /stuck?10 running for " "... with how long each ran"
assert_file_contains "$T/h.log" ", in stuck_in_sleep" "harakiri-verbose: the Python stack names the sleeping function"
assert_file_contains "$T/h.log" "time.sleep(secs)" "... down to the line that sleeps"
# The stack came before the kill.
stack=$(grep -n ", in stuck_in_sleep" "$T/h.log" | head -1 | cut -d: -f1)
killed=$(grep -n "killed by signal Killed" "$T/h.log" | head -1 | cut -d: -f1)
[ "$stack" -lt "$killed" ] || fail "the stack was logged after the kill"
ok "the stack is logged before the kill"
new=$(curl -s --max-time 5 http://127.0.0.1:$P/pid)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "no new worker serving after harakiri ('$old' -> '$new')"
ok "the next request is served, by a new worker ($old -> $new)"
wait_until 5 stats_ok "$T/h.stats" 's["workers"][0]["harakiri_count"] == 1 and s["workers"][0]["respawn_count"] == 1' ||
        fail "harakiri_count not 1 in the stats"
ok "harakiri_count = 1 in the stats"

# A busy loop holding the GIL is stopped as well, and its stack is dumped too.
t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 9 "http://127.0.0.1:$P/spin?10")
python3 -c "import sys; sys.exit(0 if float('$t') < 4.5 else 1)" || fail "the spinning request lasted $t s"
wait_until 5 grep -q ", in spin_forever" "$T/h.log" || fail "no stack of the spinning thread"
ok "a request spinning in Python (holding the GIL) is killed after $t s, its stack logged"
wait_until 5 stats_ok "$T/h.stats" 's["workers"][0]["harakiri_count"] == 2' || fail "harakiri_count not 2"
ok "harakiri_count = 2"
# A fast request is never harakiri'd.
for i in $(seq 5); do curl -sf -o /dev/null "http://127.0.0.1:$P/sleep?0.5" || fail "short request failed"; done
stats_ok "$T/h.stats" 's["workers"][0]["harakiri_count"] == 2' || fail "a short request counted as harakiri"
ok "requests under the limit are left alone"
stop_pid "$h_pid"

# Without harakiri-verbose: killed at once, no stack.
P=$(free_port)
start_vassal q --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 --harakiri 1
wait_ready q http://127.0.0.1:$P/
curl -s -o /dev/null --max-time 9 "http://127.0.0.1:$P/stuck?10"
wait_until 5 grep -q "HARAKIRI: worker" "$T/q.log" || fail "harakiri = 1 did not fire"
grep -q ", in stuck_in_sleep" "$T/q.log" && fail "a stack without harakiri-verbose"
ok "harakiri without -verbose: the HARAKIRI line, no stack"
stop_pid "$q_pid"

# ---- max-requests = 10 with max-requests-delta = 10: worker 1 recycles at 10, worker 2 at 20 ----
P=$(free_port)
start_vassal m --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 \
        --max-requests 10 --max-requests-delta 10 --disable-logging
wait_ready m http://127.0.0.1:$P/
# A new connection per request (keep-alive would stay with one worker); count per pid.
counts=$(python3 - "$P" <<'EOF'
import collections, http.client, sys
c = collections.Counter()
for _ in range(200):
    h = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    h.request("GET", "/pid")
    c[h.getresponse().read().strip().decode()] += 1
    h.close()
print(" ".join(str(n) for n in sorted(c.values())))
EOF
)
echo "  (requests per worker pid: $counts)"
wait_until 5 grep -q "worker 1 stopping (max-requests reached: 10)" "$T/m.log" || fail "worker 1 did not recycle at 10"
wait_until 5 grep -q "worker 2 stopping (max-requests reached: 20)" "$T/m.log" || fail "worker 2 did not recycle at 20"
grep -Eq "worker 1 stopping \(max-requests reached: [^1]|worker 2 stopping \(max-requests reached: [^2]" "$T/m.log" &&
        fail "a worker recycled at another count"
ok "worker 1 recycles after 10 requests, worker 2 after 20"
python3 -c "import sys; c = [int(x) for x in '$counts'.split()]; sys.exit(0 if max(c) == 20 and 10 in c and sum(c) == 200 else 1)" ||
        fail "requests per worker process: $counts (expected at most 20, some exactly 10)"
ok "no worker process served more than its limit"
stop_pid "$m_pid"

# ---- reload-on-rss = 60: a worker leaking 20 MB per request is replaced ----
P=$(free_port)
start_vassal r --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --reload-on-rss 60 --memory-report --stats "$T/r.stats"
wait_ready r http://127.0.0.1:$P/
old=$(curl -s http://127.0.0.1:$P/pid)
wait_until 5 stats_ok "$T/r.stats" 's["workers"][0]["rss"] > 1000000 and s["workers"][0]["vsz"] > s["workers"][0]["rss"]' ||
        fail "no rss/vsz in the stats"
ok "the stats have each worker's rss and vsz"
for i in 1 2 3 4; do curl -s -o /dev/null "http://127.0.0.1:$P/leak?20"; done
wait_until 5 grep -q "worker 1 (pid $old) uses .* MB of resident memory, reload-on-rss is 60 MB" "$T/r.log" ||
        fail "reload-on-rss did not notice the leak"
ok "reload-on-rss: the leaking worker is named, with its rss"
wait_until 10 bash -c "new=\$(curl -s http://127.0.0.1:$P/pid); [ -n \"\$new\" ] && [ \"\$new\" != $old ]" ||
        fail "the leaking worker was not replaced"
ok "a new worker serves"
assert_file_contains "$T/r.log" "worker 1 (pid $old) exited with status 0" "the leaking worker exited gracefully"
last=$(grep "\[pid: $old|app: 0|req: .*GET /leak?20" "$T/r.log" | tail -1)
printf '%s\n' "$last" | grep -Eq "^\{address space usage: [0-9]+ bytes/[0-9]+MB\} \{rss usage: [0-9]+ bytes/[0-9]+MB\} \[pid: " ||
        fail "memory-report: no address space and rss in the request line: $last"
rss4=$(printf '%s\n' "$last" | sed -E 's/.*\{rss usage: [0-9]+ bytes\/([0-9]+)MB\}.*/\1/')
[ "$rss4" -ge 80 ] || fail "memory-report: rss after 80 MB leaked is $rss4 MB"
ok "memory-report: each request line has the address space and rss (${rss4} MB after the leak)"
stop_pid "$r_pid"
