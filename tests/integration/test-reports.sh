# The vassals' stats reports on RUN_DIR/stats.sock (emperor/reports.h): they arrive without a
# wake-up per vassal, a report from a process the emperor does not watch is refused (the
# connection is closed at once).
. "$(dirname "$0")/lib.sh"

start_emperor --stats-interval 1
P=$(free_port)
make_ini app $P
wait_until 15 state_is app running || fail "app not running"
for i in $(seq 7); do curl -s -o /dev/null http://127.0.0.1:$P/; done
wait_until 10 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status app | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"requests\"])')\" = 7 ]" ||
        fail "the report with 7 requests never came: $(ctl --json status app)"
ok "reports reach the emperor through stats.sock"
test -S "$RUN/stats.sock" || fail "no $RUN/stats.sock"
age=$(vassal_field app stats_age)
python3 -c "import sys; sys.exit(0 if float('$age') < 3 else 1)" || fail "stats_age $age"
ok "the newest report is fresh (stats_age $age s)"

# A stranger (nobody, then root but not a vassal) connects and sends a forged report.
forge() { # forge [setpriv args...]: prints what the emperor did with the connection
        "$@" /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("closed")  # the run dir keeps it out before the emperor has to
    sys.exit(0)
s.settimeout(5)
try:
    s.send(b"STATUS=forged\nX_STATS={\"workers\":[],\"requests\":999999}")
    print("closed" if s.recv(10) == b"" else "answered")
except (BrokenPipeError, ConnectionResetError):
    print("closed")
except socket.timeout:
    print("kept")
' "$RUN/stats.sock"
}
assert_eq "$(forge setpriv --reuid=65534 --regid=65534 --clear-groups)" closed "a connection from nobody is closed"
assert_eq "$(forge)" closed "a connection from a process the emperor does not watch is closed"
sleep 2.5
assert_eq "$(vassal_field app requests)" 7 "the forged report changed nothing"

# Later reports keep coming on the same connection.
curl -s -o /dev/null http://127.0.0.1:$P/
wait_until 10 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status app | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"requests\"])')\" = 8 ]" ||
        fail "request 8 not reported"
ok "reports keep coming"

# Idle, a vassal's report is its measures alone (X_STATS_SAME=, vassal/report.h): the stats
# the emperor holds stay fresh and keep their counts while the CPU time moves on.
t0=$(vassal_field app cpu_time) w0=$(vassal_field app workers)
sleep 4
age=$(vassal_field app stats_age)
python3 -c "import sys; sys.exit(0 if float('$age') < 3 else 1)" || fail "idle: stats_age $age"
assert_eq "$(vassal_field app requests)" 8 "idle: the requests held"
assert_eq "$(vassal_field app workers)" "$w0" "idle: the workers held"
t1=$(vassal_field app cpu_time)
python3 -c "import sys; sys.exit(0 if float('$t1') > float('$t0') else 1)" || fail "idle: cpu_time $t0 -> $t1"
ok "idle reports keep the stats fresh (stats_age $age s) and the CPU time moving ($t0 -> $t1 s)"
curl -s -o /dev/null http://127.0.0.1:$P/
wait_until 10 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status app | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"requests\"])')\" = 9 ]" ||
        fail "request 9 not reported after the idle spell"
ok "a request after the idle spell is reported whole"
