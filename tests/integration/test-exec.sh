# exec = COMMAND ARGS: the vassal supervises another program. It gets the ini's sockets at fd 3
# (LISTEN_FDS/LISTEN_PID), a clean signal state, its own process group and /dev/null for
# stdin; its output goes to the log; it is restarted with backoff when it dies, restarted on
# SIGHUP, stopped with SIGTERM and then SIGKILL after reload-mercy, and an exec failure is
# logged. A program that binds its own port needs no socket in the ini.
. "$(dirname "$0")/lib.sh"

program_pid() { pgrep -P "$1"; } # the vassal master's only child in exec mode
group_empty() { ! pgrep -g "$1" >/dev/null; }
count() { grep -cxF -- "$2" "$1"; } # whole lines

# A supervisor's notify socket, to see READY=1.
NS="$T/notify.sock"
python3 "$TOP/tests/integration/notify-listener.py" "$NS" "$T/notify.out" &
PIDS+=($!)
wait_until 5 test -S "$NS" || fail "notify listener did not start"

# (a) A socket-activated server on the inherited fd 3; (g) its stdout in logto.
P=$(free_port)
cat >"$T/fd3.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P
exec = /usr/bin/python3 $APPS/fd3server.py
logto = $T/fd3-logto.log
reload-mercy = 5
INI
out=$("$VASSAL" --check "$T/fd3.ini" 2>&1)
assert_eq "$out" "$T/fd3.ini: OK" "--check accepts exec without an app"
NOTIFY_SOCKET="$NS" start_vassal fd3 "$T/fd3.ini"
wait_ready fd3 http://127.0.0.1:$P/
assert_contains "$(curl -s http://127.0.0.1:$P/)" "fd3 pid=$(program_pid "$fd3_pid")" \
        "the program serves on fd 3 with LISTEN_PID = its pid, LISTEN_FDS = 1"
info=$(curl -s http://127.0.0.1:$P/info)
python3 - "$info" <<'PY' || fail "program's process state: $info"
import json, sys
i = json.loads(sys.argv[1])
assert i["pgid"] == i["pid"] == i["sid"], "own session and process group"
assert int(i["sigblk"], 16) == 0, "empty signal mask"
assert not int(i["sigign"], 16) & (1 << 14), "SIGTERM not ignored"
assert i["notify_socket"] is None, "NOTIFY_SOCKET not passed on"
assert i["stdin"] == "/dev/null", "stdin is /dev/null"
assert 3 in i["fds"] and 5 not in i["fds"], "fd 3 and nothing of the master's above"
PY
ok "own process group, empty signal mask, no NOTIFY_SOCKET, stdin /dev/null, no stray fds"
wait_until 5 grep -qx "READY=1" "$T/notify.out" || fail "no READY=1 for the exec vassal"
ok "READY=1 once the program runs"
wait_until 5 grep -qF "fd3server: serving on fd 3" "$T/fd3-logto.log" || fail "program stdout not in logto"
ok "(g) the program's stdout lines are in logto"
wait_until 5 grep -qF '"GET /info HTTP/1.1" 200' "$T/fd3-logto.log" || fail "program stderr not in logto"
ok "its stderr too"

# (c) kill -9: logged, restarted (at once after a run of a second or more: lib/backoff.h),
# serving again.
old=$(program_pid "$fd3_pid")
kill -9 "$old"
wait_until 10 bash -c "p=\$(pgrep -P $fd3_pid) && [ \"\$p\" != $old ] && curl -sf http://127.0.0.1:$P/ | grep -q \"pid=\$p\"" ||
        fail "killed program not restarted"
ok "(c) killed program restarted and serving"
assert_file_contains "$T/fd3-logto.log" "(pid $old) killed by signal Killed" "the death is logged"
grep -qE "restarting program '/usr/bin/python3 $APPS/fd3server.py' (at once|in 0\.[1-9] s|in 1 s)" \
        "$T/fd3-logto.log" || fail "no restart at once (or at the 1 s floor)"
ok "restarted at once, or at the 1 s floor"

# SIGHUP: a graceful restart, a new pid, serving again.
old=$(program_pid "$fd3_pid")
kill -HUP "$fd3_pid"
wait_until 10 bash -c "p=\$(pgrep -P $fd3_pid) && [ \"\$p\" != $old ] && curl -sf http://127.0.0.1:$P/ | grep -q \"pid=\$p\"" ||
        fail "SIGHUP did not restart the program"
gone "$old" || fail "old program still running after SIGHUP"
ok "SIGHUP restarts the program"
assert_eq "$(grep -c '^READY=1' "$T/notify.out")" "2" "READY=1 again after the restart"

# SIGTERM: the program gets SIGTERM, the vassal exits 0.
old=$(program_pid "$fd3_pid")
kill -TERM "$fd3_pid"
wait_until 10 gone "$fd3_pid" || fail "vassal did not stop"
wait "$fd3_pid"; rc=$?
assert_eq "$rc" "0" "SIGTERM stops the program and the vassal exits 0"
gone "$old" || fail "program left behind"
assert_file_contains "$T/fd3-logto.log" "(pid $old) killed by signal Terminated" "the program got SIGTERM"
curl -s --max-time 2 http://127.0.0.1:$P/ >/dev/null && fail "port still open after stop"
ok "port closed after stop"

# Two sockets, in ini order at fd 3 and 4.
P1=$(free_port) P2=$(free_port)
cat >"$T/two.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P1
socket = 127.0.0.1:$P2
exec = /usr/bin/python3 -c 'import os, socket, time; print("fds", os.environ["LISTEN_FDS"], [socket.socket(fileno=f).getsockname()[1] for f in (3, 4)], flush=True); time.sleep(1000)'
INI
start_vassal two "$T/two.ini"
wait_until 10 grep -qF "fds 2 [$P1, $P2]" "$T/two.log" || fail "two sockets not at fd 3 and 4"
ok "two sockets at fd 3 and 4, in ini order"
stop_pid "$two_pid"

# A program that is not Python: signal mask and ignored set empty (Python ignores SIGPIPE
# itself, so only a plain program shows the master's SIGPIPE is not inherited).
start_vassal sig --exec "/bin/grep -E '^Sig(Blk|Ign)' /proc/self/status"
wait_until 10 grep -qF "SigIgn:" "$T/sig.log" || fail "grep did not run"
# Only the standard signals 1-31 count: glibc keeps 32 and 33 for itself and refuses to reset
# them, so what an ancestor (make, a job runner) did to those survives every exec, ours too.
assert_eq "$(grep -E '^Sig(Blk|Ign)' "$T/sig.log" | head -2 |
        python3 -c 'import sys; print(" ".join("%s%x" % (l.split()[0], int(l.split()[1], 16) & 0x7fffffff) for l in sys.stdin))')" \
        "SigBlk:0 SigIgn:0" "no blocked or ignored signal inherited"
stop_pid "$sig_pid"

# (b) A program that binds its own port: no socket in the ini.
P=$(free_port)
mkdir -p "$T/www" && echo "static hello" >"$T/www/index.html"
start_vassal hs --exec "/usr/bin/python3 -m http.server $P --bind 127.0.0.1 --directory $T/www"
wait_ready hs http://127.0.0.1:$P/
assert_eq "$(status_of http://127.0.0.1:$P/)" "200" "(b) http.server binding its own port serves 200"
assert_eq "$(curl -s http://127.0.0.1:$P/)" "static hello" "and its content"
stop_pid "$hs_pid"

# (d) A program that exits at once, with status 0 (a service must not exit): restarted after
# 1, 2, 4 s, never more often.
start_vassal crash --exec "/bin/sh -c 'echo crash-run; exit 0'"
start=$SECONDS
wait_until 15 grep -qF "in 4 s" "$T/crash.log" || fail "no growing backoff"
for d in 1 2 4; do
        assert_file_contains "$T/crash.log" "restarting program '/bin/sh -c 'echo crash-run; exit 0'' in $d s" "backoff $d s"
done
assert_file_contains "$T/crash.log" "exited with status 0" "exit 0 is logged"
[ $((SECONDS - start)) -ge 2 ] || fail "three runs in under 2 s"
runs=$(count "$T/crash.log" "crash-run")
[ "$runs" -le 4 ] || fail "fork storm: $runs runs"
ok "(d) $runs runs in $((SECONDS - start)) s: no fork storm"
# Stopping during the backoff is immediate.
stop_pid "$crash_pid"
ok "stop during backoff"

# (e) A program (and its child) ignoring SIGTERM: SIGKILLed after reload-mercy, nothing of its
# process group left.
cat >"$T/stubborn.ini" <<'INI'
[uwsgi]
exec = /bin/sh -c 'trap "" TERM; echo stubborn-up; sleep 1000 & wait'
reload-mercy = 2
INI
start_vassal stubborn "$T/stubborn.ini"
wait_until 10 grep -qF "stubborn-up" "$T/stubborn.log" || fail "stubborn program did not start"
pgid=$(program_pid "$stubborn_pid")
wait_until 5 bash -c "[ \$(pgrep -g $pgid | wc -l) -ge 2 ]" || fail "its child did not start"
t0=$SECONDS
kill -TERM "$stubborn_pid"
wait_until 15 gone "$stubborn_pid" || fail "vassal did not stop a program ignoring SIGTERM"
[ $((SECONDS - t0)) -ge 1 ] || fail "killed before reload-mercy"
assert_file_contains "$T/stubborn.log" "did not stop within reload-mercy (2 s): killing its process group" \
        "(e) SIGKILL after reload-mercy"
wait_until 5 group_empty "$pgid" || fail "processes of the group left: $(pgrep -g "$pgid" -a)"
ok "nothing of its process group is left"

# A program whose leader exits and leaves a child behind: the child is stopped before the
# restart.
start_vassal orphan --exec "/bin/sh -c 'sleep 1000 & echo orphan-run; exit 1'"
wait_until 10 grep -qF "processes of its group outlived it, stopping them" "$T/orphan.log" ||
        fail "leftover child not noticed"
pgid=$(grep -oE "started \(pid [0-9]+" "$T/orphan.log" | head -1 | grep -oE "[0-9]+$")
wait_until 5 group_empty "$pgid" || fail "leftover child not stopped"
ok "a leftover child is stopped before the restart"
wait_until 10 grep -qF "restarting program" "$T/orphan.log" || fail "no restart after the group emptied"
stop_pid "$orphan_pid"

# (f) A missing binary: the error, logged; retried; stop still works.
start_vassal missing --exec "/nonexistent/prog --flag"
wait_until 10 grep -qF "Failed to execute '/nonexistent/prog': No such file or directory" "$T/missing.log" ||
        fail "exec failure not logged"
ok "(f) exec failure logged"
wait_until 5 grep -qF "restarting program '/nonexistent/prog --flag' in 1 s" "$T/missing.log" || fail "no retry"
start_vassal nopath --exec "no-such-command-here arg"
wait_until 10 grep -qF "Failed to execute 'no-such-command-here': No such file or directory" "$T/nopath.log" ||
        fail "PATH lookup failure not logged"
ok "a name not in PATH is reported the same way"
stop_pid "$missing_pid"
stop_pid "$nopath_pid"

# Bad commands are config errors: exit 78 with file:line.
printf '[uwsgi]\nexec = prog | grep x\n' >"$T/pipe.ini"
out=$("$VASSAL" --check "$T/pipe.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "a shell pipeline is refused"
assert_contains "$out" "$T/pipe.ini:2: exec: expected no unquoted shell operator" "with file:line and why"
printf '[uwsgi]\nexec = prog "open\n' >"$T/quote.ini"
out=$("$VASSAL" --check "$T/quote.ini" 2>&1)
assert_contains "$out" "$T/quote.ini:2: exec: expected a command with matching quotes" "unmatched quote"
out=$("$VASSAL" --check --exec prog --wsgi-file x.py 2>&1); rc=$?
assert_eq "$rc" "78" "exec and an app both set"
assert_contains "$out" "'exec' and 'wsgi-file' both set" "explained"
