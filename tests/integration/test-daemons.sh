# attach-daemon and friends (vassal/daemons.h), with a Celery-like daemon: a Python script that
# writes its pid and then heartbeats to a file. attach-daemon: started once the workers are
# ready, its output in the log prefixed '[daemon NAME]', killed -> restarted, a daemon that
# exits at once backs off 1, 2, 4 s (never a tight loop), a reload restarts it (uWSGI: dumb
# daemons are "destroyed when the master is reloaded"), a stop ends it and its group, and so
# does a kill -9 of the master (parent-death signal). smart-attach-daemon: a daemonizing script
# governed by its pidfile keeps its pid across a reload and outlives the stop (uWSGI: "can
# survive death or reload of the master"). attach-daemon2: touch= restarts it. --check refuses
# bad lines with file:line.
. "$(dirname "$0")/lib.sh"

cat >"$T/beat.py" <<'PY'
import os, sys, time
beats = sys.argv[1]
if len(sys.argv) > 3 and sys.argv[2] == "--daemonize":
    pidfile = sys.argv[3]
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
print("beat started", os.getpid(), flush=True)
while True:
    with open(beats, "a") as f:
        f.write("%d\n" % os.getpid())
    time.sleep(0.2)
PY

last_beat() { tail -n 1 "$1" 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
# The file's last heartbeat is from a live process other than $2.
new_beat() { local p; p=$(last_beat "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && alive "$p"; }
# The file grows: a heartbeat after the ones seen so far.
beats_grow() { local n; n=$(wc -l <"$1"); wait_until 5 bash -c "[ \$(wc -l <'$1') -gt $n ]"; }
group_empty() { ! pgrep -g "$1" >/dev/null; }
LOG="$T/daemons.log"

# --check: bad daemon lines are file:line errors, exit 78.
cat >"$T/bad.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:1
wsgi-file = $APPS/testapp.py
attach-daemon2 = freq=3,pidfile=/tmp/x.pid
smart-attach-daemon = /only/a/pidfile
attach-daemon2 = cmd=true,stopsignal=NOPE
INI
capture "$VASSAL" --check "$T/bad.ini"
expect 78 "--check refuses bad daemon lines"
assert_contains "$err" "bad.ini:4: attach-daemon2: expected a cmd=COMMAND key" "a missing cmd, with file:line"
assert_contains "$err" "bad.ini:5: smart-attach-daemon: expected PIDFILE COMMAND" "a pidfile without command"
assert_contains "$err" "bad.ini:6: attach-daemon2: expected a signal" "an unknown signal"

P=$(free_port)
cat >"$T/v.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P
wsgi-file = $APPS/testapp.py
logto = $LOG
reload-mercy = 5
attach-daemon = python3 $T/beat.py $T/dumb.beats
attach-daemon = sh -c 'echo dying at once; exit 3'
smart-attach-daemon = $T/smart.pid python3 $T/beat.py $T/smart.beats --daemonize $T/smart.pid
attach-daemon2 = cmd=python3 $T/beat.py $T/kv.beats,touch=$T/kv.touch,stopsignal=INT
INI
capture "$VASSAL" --check "$T/v.ini"
expect 0 "--check accepts the daemon lines"

start_vassal v "$T/v.ini"
wait_ready v http://127.0.0.1:$P/
wait_until 10 new_beat "$T/dumb.beats" none || fail "attach-daemon did not start"
D1=$(last_beat "$T/dumb.beats")
ok "attach-daemon runs (pid $D1) and heartbeats"
wait_until 5 grep -qF "[daemon python3] beat started $D1" "$LOG" || fail "its output is not in the log"
ok "its stdout is in the vassal's log, prefixed '[daemon python3]'"
assert_eq "$(grep -n "ready: " "$LOG" | head -1 | cut -d: -f1)" \
        "$(grep -n -e "ready: " -e "daemon 'python3' started" "$LOG" | head -1 | cut -d: -f1)" \
        "daemons start after the workers are ready"
wait_until 10 new_beat "$T/smart.beats" none || fail "smart-attach-daemon did not start"
S1=$(cat "$T/smart.pid")
assert_eq "$(last_beat "$T/smart.beats")" "$S1" "smart-attach-daemon runs, governed by its pidfile (pid $S1)"
wait_until 10 new_beat "$T/kv.beats" none || fail "attach-daemon2 did not start"
K1=$(last_beat "$T/kv.beats")

# Killed: logged and restarted (it lived more than a second: at once).
kill -9 "$D1"
wait_until 10 new_beat "$T/dumb.beats" "$D1" || fail "killed daemon not restarted"
D2=$(last_beat "$T/dumb.beats")
ok "killed daemon restarted (pid $D1 -> $D2)"
assert_file_contains "$LOG" "daemon 'python3' (pid $D1) killed by signal Killed" "its death is logged"

# A daemon that exits at once: 1, 2, 4 s between its starts, never a tight loop.
wait_until 20 grep -qF "daemon 'sh' died after" "$LOG" || fail "no backoff for the failing daemon"
wait_until 20 grep -qF "restarting in 4.0 s" "$LOG" || fail "no third backoff step"
delays=$(grep -oE "daemon 'sh' died after [0-9.]+ s, [0-9]+ time\(s\) in a row within a minute of its start: restarting in [0-9.]+ s" "$LOG" |
        sed -E 's/.*restarting in ([0-9.]+) s/\1/' | head -3 | tr '\n' ' ')
# The first waits out the rest of the second since its start (lib/backoff.h's floor).
case "$delays" in 0.[0-9]\ 2.0\ 4.0\ | 1.0\ 2.0\ 4.0\ ) ;; *) fail "backoff steps: '$delays'" ;; esac
ok "the failing daemon backs off: 1 s after its start, then 2 s, 4 s ($delays)"
starts=$(grep -cF "daemon 'sh' started" "$LOG")
deaths=$(grep -cF "daemon 'sh' (pid" "$LOG")
[ "$starts" -le $((deaths + 1)) ] && [ "$starts" -le 6 ] || fail "tight loop: $starts starts, $deaths deaths"
ok "no tight loop ($starts starts for $deaths deaths)"
assert_file_contains "$LOG" "[daemon sh] dying at once" "the failing daemon's output is in the log"

# attach-daemon2 touch=: a touch restarts it.
touch "$T/kv.touch"
wait_until 10 new_beat "$T/kv.beats" "$K1" || fail "touch did not restart the attach-daemon2"
ok "touching '$T/kv.touch' restarted the attach-daemon2 daemon"
assert_file_contains "$LOG" "(pid $K1) killed by signal Interrupt" "it got its stopsignal (INT)"

# A graceful reload: the smart daemon keeps its pid; the dumb one is restarted with the app.
ready_before=$(grep -c "ready: " "$LOG")
kill -HUP "$v_pid"
wait_until 30 bash -c "[ \$(grep -c 'ready: ' '$LOG') -gt $ready_before ]" || fail "reload did not finish"
wait_until 10 new_beat "$T/dumb.beats" "$D2" || fail "dumb daemon not restarted by the reload"
D3=$(last_beat "$T/dumb.beats")
wait_until 10 gone "$D2" || fail "the dumb daemon of before the reload still runs"
ok "reload: attach-daemon restarted (pid $D2 -> $D3), the old one gone"
assert_eq "$(cat "$T/smart.pid")" "$S1" "reload: the smart daemon's pidfile is unchanged"
alive "$S1" || fail "the smart daemon died in the reload"
beats_grow "$T/smart.beats" || fail "the smart daemon stopped beating"
assert_eq "$(last_beat "$T/smart.beats")" "$S1" "reload: the smart daemon kept its pid and beats on"
assert_file_contains "$LOG" "already running (pid $S1, from '$T/smart.pid')" "the new master found it by its pidfile"
alive "$v_pid" || fail "master gone after the reload"

# The stop: the dumb daemons and their groups go; the smart one is left running.
D3_PGID=$D3
stop_pid "$v_pid"
wait_until 10 gone "$D3" || fail "attach-daemon still running after the vassal stopped"
wait_until 10 group_empty "$D3_PGID" || fail "attach-daemon's group still has processes"
ok "vassal stop: attach-daemon (pid $D3) and its process group are gone"
alive "$S1" || fail "the smart daemon was stopped with the vassal"
ok "vassal stop: the pidfile-governed daemon (pid $S1) outlives it, as in uWSGI"
kill "$S1"
wait_until 5 gone "$S1" || fail "could not stop the smart daemon"

# The master killed with SIGKILL: its daemon must not outlive it.
P2=$(free_port)
cat >"$T/k.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P2
wsgi-file = $APPS/testapp.py
attach-daemon = python3 $T/beat.py $T/k.beats
INI
start_vassal k "$T/k.ini"
wait_ready k http://127.0.0.1:$P2/
wait_until 10 new_beat "$T/k.beats" none || fail "attach-daemon of the second vassal did not start"
KD=$(last_beat "$T/k.beats")
workers=$(pgrep -P "$k_pid" | tr '\n' ' ')
kill -9 "$k_pid"
wait "$k_pid" 2>/dev/null
wait_until 5 gone "$KD" || fail "daemon (pid $KD) orphaned after kill -9 of its master"
ok "kill -9 of the master: its daemon (pid $KD) is gone within seconds"
for w in $workers; do wait_until 10 gone "$w" || kill -9 "$w" 2>/dev/null; done
exit 0
