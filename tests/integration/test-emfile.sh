# A full descriptor table does not make the emperor spin: run with `prlimit --nofile=64`, 120
# connections held to its control socket and its HTTP listener leave it idle (it pauses
# accepting and re-arms, lib/acceptor.c; before, 94% of a core), and once they close, the control
# socket, /metrics and the conf dir all work again.
. "$(dirname "$0")/lib.sh"

HP=$(free_port)
mkdir -p "$CONF" "$RUN"
prlimit --nofile=64 "$EMPEROR" --run-dir "$RUN" --state-dir "$T/state" --http "127.0.0.1:$HP" \
        "$CONF" >"$T/emperor.log" 2>&1 </dev/null &
emperor_pid=$!
PIDS+=("$emperor_pid")
wait_until 10 test -S "$RUN/control.sock" || fail "the emperor did not start"
wait_until 10 http_ok "http://127.0.0.1:$HP/metrics" || fail "no /metrics"

# 120 connections to each listener, held open (as a local user could).
/usr/bin/python3 - "$RUN/control.sock" "$HP" "$T/held" <<'PY' &
import os, socket, sys, time
ctl, port, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(120):
    # A full backlog makes a connect wait: as many as get through in a moment each.
    for family, addr in ((socket.AF_UNIX, ctl), (socket.AF_INET, ("127.0.0.1", port))):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(0.2)
        try:
            s.connect(addr)
            held.append(s)
        except OSError:
            s.close()
with open(flag, "w") as f:
    f.write(str(len(held)))
time.sleep(30)
PY
holder=$!
PIDS+=("$holder")
wait_until 60 test -s "$T/held" || fail "could not open the connections"
ok "$(cat "$T/held") connections held"

cpu() { awk '{ print $14 + $15 }' "/proc/$emperor_pid/stat"; }
c0=$(cpu)
sleep 3
c1=$(cpu)
# Clock ticks (1/100 s) in 3 s: a spinning listener takes ~300; an idle emperor a few.
[ $((c1 - c0)) -lt 60 ] || fail "the emperor used $((c1 - c0)) ticks of CPU in 3 s with its descriptors full"
ok "descriptors full: the emperor idles ($((c1 - c0)) ticks in 3 s)"

stop_pid "$holder" KILL
wait_until 10 bash -c "'$CTL' --run-dir '$RUN' status >/dev/null 2>&1" ||
        fail "the control socket does not answer after the connections closed"
ok "the control socket answers again"
wait_until 10 http_ok "http://127.0.0.1:$HP/metrics" || fail "/metrics does not answer again"
ok "/metrics answers again"
P=$(free_port)
make_ini back "$P"
wait_until 15 http_ok "http://127.0.0.1:$P/" || fail "a new ini does not serve"
ok "the conf dir is watched and a new vassal serves"
