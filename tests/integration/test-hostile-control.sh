# Tyrant mode's world-writable control socket, probed by an unprivileged user: nobody opening
# 100 idle connections gets 8 (a per-user cap, with the reason for the others), root's
# emperorctl keeps working all the while, and the idle ones are closed after 15 s, after which
# nobody may connect again.
. "$(dirname "$0")/lib.sh"

hostile_setup

start_emperor --tyrant
P=$(free_port)
make_ini app $P
chown nobody:nogroup "$CONF/app.ini"
touch "$CONF/app.ini"
wait_until 15 state_is app running || fail "app did not start"

# hold N: opens N connections, says how many were refused and why, keeps the others without
# a word until the emperor closes them, then says after how long.
cat >"$T/hold.py" <<'PY'
import socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
conns, refused, why = [], 0, set()
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
time.sleep(1)
held = []
for s in conns:
    s.setblocking(False)
    try:
        data = s.recv(4096)
        refused += 1
        why.add(data.decode().strip())
    except BlockingIOError:
        held.append(s)
print("refused=%d held=%d why=%s" % (refused, len(held), sorted(why)), flush=True)
start = time.monotonic()
while held and time.monotonic() - start < 40:
    for s in list(held):
        try:
            if s.recv(4096) == b"":
                held.remove(s)
        except BlockingIOError:
            pass
    time.sleep(0.2)
print("left=%d after=%.0f" % (len(held), time.monotonic() - start), flush=True)
PY
as_nobody /usr/bin/python3 "$T/hold.py" "$RUN/control.sock" 100 >"$T/hold.out" 2>"$T/hold.log" &
hold_pid=$!
PIDS+=("$hold_pid")
wait_until 10 grep -q refused= "$T/hold.out" || fail "the holder did not report"
line=$(head -1 "$T/hold.out")
assert_contains "$line" "refused=92 held=8" "nobody holds 8 connections, 92 are refused"
assert_contains "$line" "too many control clients of this user" "and told why"

for k in 1 2 3; do
        capture ctl status
        expect 0 "root's emperorctl status while nobody holds what it may ($k)"
done
capture ctl restart app
expect 0 "root's emperorctl restart too"
out=$(as_nobody "$CTL" --run-dir "$RUN" status 2>&1); rc=$?
assert_eq "$rc" "1" "nobody's ninth connection is refused"
assert_contains "$out" "too many control clients" "with the reason"

# The idle ones are closed after 15 s.
wait_until 30 grep -q left= "$T/hold.out" || fail "the idle connections were not closed"
line=$(tail -1 "$T/hold.out")
assert_contains "$line" "left=0" "every idle connection was closed"
after=${line##*after=}
[ "$after" -ge 12 ] && [ "$after" -le 20 ] || fail "closed after $after s, expected about 15"
ok "after about 15 s idle ($after s)"
wait "$hold_pid"
capture as_nobody "$CTL" --run-dir "$RUN" status
expect 0 "nobody may connect again"
assert_contains "$out" "app" "and sees their vassal"
