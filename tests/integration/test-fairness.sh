# Fair keep-alive: one thread, one client keeping two requests in flight on its keep-alive
# connection (the next one always waiting in the socket), and a second client: the second is
# served while the first is still sending, because a connection that was just served goes to
# the back of the line when others wait, instead of its thread reading on.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
start_vassal f --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 1 --disable-logging
wait_ready f http://127.0.0.1:$P/

python3 - "$P" >"$T/greedy.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
req = b"GET /sleep?0.05 HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(req + req)  # two in flight: one served, the next waiting in the socket
end = time.monotonic() + 4
buf, n = b"", 0
while time.monotonic() < end:
    buf += s.recv(65536)
    while b"slept\n" in buf:
        buf = buf.split(b"slept\n", 1)[1]
        n += 1
        s.sendall(req)
print("greedy done at %.3f after %d responses" % (time.time(), n), flush=True)
PY
greedy=$!
PIDS+=("$greedy")
sleep 0.5
out=$(curl -s --max-time 10 -w ' %{time_total}' http://127.0.0.1:$P/)
now=$(python3 -c 'import time; print("%.3f" % time.time())')
wait "$greedy"
assert_contains "$out" "Hello World" "the second client is answered"
greedy_end=$(awk '{ print $4 }' "$T/greedy.out")
awk -v a="$now" -v b="$greedy_end" 'BEGIN { exit !(a < b) }' ||
        fail "the second client (${out##* } s) waited for the greedy one to stop: $(cat "$T/greedy.out")"
ok "... while the greedy connection still sends (in ${out##* } s): $(cat "$T/greedy.out")"
