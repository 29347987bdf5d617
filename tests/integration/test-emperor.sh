# The emperor's lifecycle: an ini renamed into the dir serves; a touch reloads it (new pids); a
# delete closes its port; kill -9 of a vassal master brings it back; a crash-looping app shows a
# growing backoff; a bad ini shows file:line while a good vassal beside it keeps serving; an app
# that forks a grandchild leaves nothing behind; SIGTERM stops everything.
. "$(dirname "$0")/lib.sh"

start_emperor
P=$(free_port)
make_ini good $P
wait_until 10 http_ok http://127.0.0.1:$P/ || fail "a new ini did not serve"
ok "an ini renamed into the dir serves"
wait_until 5 state_is good running || fail "state is not running"
ok "state running"

# touch: a new vassal (blue-green), so a new master pid and new worker pids.
pid1=$(vassal_field good pid)
wpid1=$(curl -s http://127.0.0.1:$P/environ | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
touch "$CONF/good.ini"
wait_until 10 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status good | python3 -c 'import json,sys; v=json.load(sys.stdin)[\"vassals\"][0]; print(v[\"pid\"] if v[\"state\"]==\"running\" else 0)')\" != '$pid1' ]" ||
        fail "touch did not reload"
# The old vassal may take one more request while its SIGTERM is on its way: the new worker
# answers within moments.
worker_pid() { curl -s http://127.0.0.1:$P/environ | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
new_worker() { [ "$(worker_pid)" != "$wpid1" ]; }
wait_until 10 new_worker || fail "same worker pid after reload"
wpid2=$(worker_pid)
ok "touch reloads: new master and worker pids"
wait_until 10 bash -c "! kill -0 $pid1 2>/dev/null" || fail "old master still alive"
ok "the old master is gone"

# kill -9 of the master: back and serving.
pid2=$(vassal_field good pid)
kill -9 "$pid2"
wait_until 10 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status good | python3 -c 'import json,sys; v=json.load(sys.stdin)[\"vassals\"][0]; print(v[\"pid\"] if v[\"state\"]==\"running\" else 0)')\" != '$pid2' ] && curl -sf -m 2 -o /dev/null http://127.0.0.1:$P/" ||
        fail "not back after kill -9"
ok "kill -9 of the master: back and serving"
assert_eq "$(vassal_field good restarts)" "1" "the restart is counted"
assert_contains "$(vassal_field good last_exit)" "killed by signal KILL" "last exit shown"

# A bad ini beside it: file:line in status, the good one keeps serving.
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = x.py\nprocesses = many\n' "$(free_port)" >"$CONF/.bad.tmp"
mv "$CONF/.bad.tmp" "$CONF/bad.ini"
wait_until 10 state_is bad config-error || fail "bad ini not in config-error"
assert_contains "$(vassal_field bad last_error)" "$CONF/bad.ini:4: processes: expected a positive integer" \
        "a bad ini shows file:line"
assert_contains "$(ctl status)" "config-error" "status table shows config-error"
assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "the good vassal keeps serving"

# A crash-looping app: its master dies (the lazy app kills it at import); the backoff grows
# and is shown.
printf 'import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos._exit(1)\n' >"$T/crash.py"
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s\nlazy-apps = true\n' "$(free_port)" "$T/crash.py" >"$CONF/.crash.tmp"
mv "$CONF/.crash.tmp" "$CONF/crash.ini"
wait_until 20 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status crash | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"restarts\"])')\" -ge 3 ]" ||
        fail "crash loop not counted: $(ctl status crash)"
b1=$(vassal_field crash backoff)
assert_eq "$(vassal_field crash state)" "crash-loop" "crash-loop state"
assert_contains "$(ctl status)" "crash-loop (retry in" "the table shows the retry"
wait_until 30 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status crash | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"restarts\"])')\" -ge 4 ]" ||
        fail "crash loop stalled"
wait_until 5 state_is crash crash-loop || fail "not back in crash-loop"
b2=$(vassal_field crash backoff)
python3 -c "import sys; sys.exit(0 if float('$b2') > float('$b1') else 1)" ||
        fail "backoff did not grow ($b1 -> $b2)"
ok "the backoff grows ($b1 s -> $b2 s)"
rm "$CONF/crash.ini"

# An app that forks a grandchild: nothing is left after the ini is removed.
P2=$(free_port)
make_ini forker $P2
wait_until 10 http_ok http://127.0.0.1:$P2/ || fail "forker did not serve"
gc=$(curl -s http://127.0.0.1:$P2/fork-grandchild)
kill -0 "$gc" 2>/dev/null || fail "grandchild not running"
rm "$CONF/forker.ini"
wait_until 10 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$P2/" || fail "port still open"
ok "a deleted ini closes its port"
wait_until 10 bash -c "! kill -0 $gc 2>/dev/null" || fail "grandchild $gc left behind"
ok "the grandchild is gone too"
wait_until 5 bash -c "! '$CTL' --run-dir '$RUN' status forker >/dev/null 2>&1" || fail "forker still listed"
ctl status forker >/dev/null 2>&1
assert_eq "$?" "3" "a removed vassal is no longer known (exit 3)"

# SIGTERM: every vassal stops, nothing is left.
vpids=$(vassal_pids | tr '\n' ' ')
[ -n "$vpids" ] || fail "no vassal process found"
stop_pid "$emperor_pid"
for p in $vpids; do kill -0 "$p" 2>/dev/null && fail "vassal process $p left after SIGTERM"; done
ok "SIGTERM stops every vassal"
curl -s -m 1 http://127.0.0.1:$P/ >/dev/null && fail "port open after the emperor stopped"
ok "ports closed"
assert_file_contains "$T/emperor.log" "every vassal stopped" "clean shutdown logged"
