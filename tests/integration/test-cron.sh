# cron, unique-cron, cron2, cron-harakiri (vassal/cron.h), run by the vassal master. The
# schedules themselves are unit-tested with injected times (tests/unit/test-cron.c); here the
# master runs them for real, with the test-only hook VASSAL_TEST_CRON_SPEED=30 (the cron's clock
# runs 30 times too fast: a minute passes every 2 s), so nothing waits for a real minute.
# Every-minute jobs run, their output and start/exit lines in the log; a unique-cron is not
# started again while its run lives (runs never overlap); cron2's harakiri kills a run that
# takes too long; a reload keeps a running job (the new image adopts and reaps it); a stop ends
# the running jobs; --check refuses bad lines with file:line.
. "$(dirname "$0")/lib.sh"

LOG="$T/cron.log"
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }

cat >"$T/bad.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:1
wsgi-file = $APPS/testapp.py
cron = 60 -1 -1 -1 -1 true
cron2 = minute=1, hour=2 true
unique-cron = 0 0 30 2 -1 never
INI
capture "$VASSAL" --check "$T/bad.ini"
expect 78 "--check refuses bad cron lines"
assert_contains "$err" "bad.ini:4: cron: expected" "a minute out of range, with file:line"
assert_contains "$err" "bad.ini:5: cron2: expected options without spaces" "cron2 options with a space"
assert_contains "$err" "bad.ini:6: unique-cron: expected a schedule that can happen" "February 30"

P=$(free_port)
cat >"$T/c.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P
wsgi-file = $APPS/testapp.py
logto = $LOG
reload-mercy = 5
cron = -1 -1 -1 -1 -1 echo tick >>$T/ticks; echo cron-output
unique-cron = -1 -1 -1 -1 -1 echo start \$\$ >>$T/unique; sleep 5; echo end \$\$ >>$T/unique
cron2 = minute=-2,harakiri=1 sleep 30
INI
capture "$VASSAL" --check "$T/c.ini"
expect 0 "--check accepts the cron lines"

VASSAL_TEST_CRON_SPEED=30 start_vassal c "$T/c.ini"
wait_ready c http://127.0.0.1:$P/
assert_file_contains "$LOG" "VASSAL_TEST_CRON_SPEED=30" "the test hook says so in the log"
wait_until 20 at_least "^tick" "$T/ticks" 3 || fail "the every-minute cron did not run 3 times"
ok "an every-minute cron runs at each (sped-up) minute"
assert_file_contains "$LOG" "cron-output" "its output is in the log"
wait_until 10 grep -q "cron 'echo tick >>$T/ticks; echo cron-output' (pid [0-9]*) exited with status 0" "$LOG" ||
        fail "its exit is not logged"
ok "its start and exit are logged"

# unique-cron: a 5 s run under a 2 s schedule. Runs never overlap: every start is followed by
# its own end before the next start.
wait_until 30 at_least "^end" "$T/unique" 2 || fail "the unique cron did not run twice"
python3 - "$T/unique" <<'PY' || fail "unique-cron runs overlapped: $(tr '\n' ' ' <"$T/unique")"
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
running = None
for what, pid in lines:
    if what == "start":
        assert running is None, "a start while %s runs" % running
        running = pid
    else:
        assert running == pid, "end of %s while %s runs" % (pid, running)
        running = None
PY
ok "unique-cron: never two runs at once"
assert_file_contains "$LOG" "still runs, not started" "a skipped unique run is logged"

# cron2 harakiri=1: the 30 s sleep is killed after a second.
wait_until 20 grep -q "cron 'sleep 30' (pid [0-9]*) ran past its harakiri of 1 s" "$LOG" ||
        fail "harakiri did not kill the long cron"
wait_until 10 grep -q "cron 'sleep 30' (pid [0-9]*) killed by signal Killed" "$LOG" ||
        fail "the harakiri'd cron's death is not logged"
ok "cron2 harakiri=1 kills a run after a second"

# A reload while the unique job runs: the new image adopts it, reaps it, and keeps it unique.
wait_until 10 bash -c "tail -n 1 '$T/unique' | grep -q '^start'" || fail "no unique run in progress"
U=$(tail -n 1 "$T/unique" | cut -d' ' -f2)
ready_before=$(count "ready: " "$LOG")
kill -HUP "$c_pid"
wait_until 30 bash -c "[ \$(grep -c 'ready: ' '$LOG') -gt $ready_before ]" || fail "reload did not finish"
wait_until 10 grep -qF "still running from before the reload" "$LOG" || fail "the job was not adopted"
wait_until 15 grep -qF "end $U" "$T/unique" || fail "the job running across the reload did not finish"
wait_until 10 grep -q "cron 'echo start .*' (pid $U) exited with status 0" "$LOG" ||
        fail "the new master did not reap the adopted job"
ok "reload: a running job (pid $U) is adopted, finishes, and is reaped by the new image"

# The stop ends a running job.
wait_until 10 bash -c "tail -n 1 '$T/unique' | grep -q '^start'" || fail "no unique run in progress"
U=$(tail -n 1 "$T/unique" | cut -d' ' -f2)
stop_pid "$c_pid"
wait_until 10 gone "$U" || fail "a running cron job outlived the vassal"
ok "vassal stop: the running cron job (pid $U) is gone"
exit 0
