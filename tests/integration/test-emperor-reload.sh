# Reloads through the emperor: a touch under `ab` loses nothing; an ini edited into a broken
# state leaves the old vassal serving and says why; a new vassal that never gets ready is
# stopped while the old one serves; two edits in quick succession are both applied; the
# control commands stop, start, restart and reload.
. "$(dirname "$0")/lib.sh"

start_emperor --ready-timeout 3
P=$(free_port)
make_ini app $P
wait_until 10 state_is app running || fail "app did not start"
U=http://127.0.0.1:$P

# touch twice while ab runs: zero failed requests, and the workers are new.
w1=$(curl -s $U/environ | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
ab -n 20000 -c 50 $U/ >"$T/ab.out" 2>&1 &
ab_pid=$!
wait_until 10 bash -c "ss -tn state established '( dport = :$P )' | grep -q $P" || true
touch "$CONF/app.ini"
wait_until 10 grep -q "reloaded" "$T/emperor.log" || fail "no reload under load"
touch "$CONF/app.ini"
wait "$ab_pid"
assert_file_contains "$T/ab.out" "Complete requests:      20000" "ab completed every request"
assert_file_contains "$T/ab.out" "Failed requests:        0" "no failed request during reloads"
grep -q "Non-2xx" "$T/ab.out" && fail "non-2xx responses during reloads"
wait_until 10 state_is app running || fail "not running after reloads"
w2=$(curl -s $U/environ | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
[ "$w1" != "$w2" ] || fail "worker pid unchanged after reload"
ok "new worker pids after the reloads ($w1 -> $w2)"

# An edit that breaks the ini: refused, the old vassal serves, the reason has file:line.
pid=$(vassal_field app pid)
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nthreads = lots\n' $P "$APPS" >"$T/.x"
mv "$T/.x" "$CONF/app.ini"
wait_until 10 bash -c "'$CTL' --run-dir '$RUN' --json status app | grep -q 'threads: expected'" ||
        fail "no error shown for the broken ini: $(ctl status app)"
assert_contains "$(vassal_field app last_error)" "$CONF/app.ini:4: threads: expected" "file:line of the broken edit"
assert_eq "$(vassal_field app state)" "running" "still running"
assert_eq "$(vassal_field app pid)" "$pid" "the same vassal serves"
assert_eq "$(curl -s $U/)" "Hello World" "the old vassal keeps serving"

# Fixed again: reloads, and the error clears.
make_ini app $P "env = GREETING=fixed"
wait_until 10 bash -c "curl -s $U/environ >/dev/null && [ \"\$('$CTL' --run-dir '$RUN' --json status app | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"last_error\"])')\" = None ]" ||
        fail "the fixed ini did not reload: $(ctl status app)"
ok "a fixed ini reloads and clears the error"

# A new vassal that never gets ready: stopped after --ready-timeout, the old one serves.
pid=$(vassal_field app pid)
printf 'import time\ntime.sleep(600)\n' >"$T/hang.py"
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s\n' $P "$T/hang.py" >"$T/.x"
mv "$T/.x" "$CONF/app.ini"
wait_until 15 bash -c "'$CTL' --run-dir '$RUN' --json status app | grep -q 'reload failed'" ||
        fail "a never-ready reload was not given up: $(ctl status app)"
assert_eq "$(vassal_field app pid)" "$pid" "the old vassal still serves"
assert_eq "$(curl -s $U/)" "Hello World" "and answers"
pgrep -f "$T/hang.py" >/dev/null && fail "the hung vassal is still running"
ok "the never-ready vassal was stopped"

# Two edits within a second are both seen: the first is served, then the second (uWSGI's
# emperor compares mtimes in whole seconds and misses the second).
make_ini app $P "env = GREETING=first"
wait_until 15 bash -c "[ \"\$(curl -s '$U/osenv?GREETING')\" = first ]" ||
        fail "the first edit was not applied"
ok "the first edit is served"
make_ini app $P "env = GREETING=second"
wait_until 15 bash -c "[ \"\$(curl -s '$U/osenv?GREETING')\" = second ]" ||
        fail "the second edit was not applied: $(curl -s "$U/osenv?GREETING")"
ok "the second edit, within the same second, is served too"

# Control commands.
assert_eq "$(ctl stop app)" "stopping 'app'" "stop"
wait_until 10 state_is app stopped || fail "not stopped"
wait_until 5 bash -c "! curl -s -m 1 -o /dev/null $U/" || fail "port open after stop"
ok "stop closes the port"
ctl stop app >/dev/null 2>&1
assert_eq "$?" "1" "stopping a stopped vassal fails (exit 1)"
# A stopped vassal stays stopped through a full rescan (SIGHUP) and an inotify scan: a
# witness ini added after them is running only once both have run.
kill -HUP "$emperor_pid"
W=$(free_port)
make_ini witness "$W"
wait_until 15 state_is witness running || fail "the witness vassal did not start"
assert_eq "$(vassal_field app state)" "stopped" "stays stopped"
rm "$CONF/witness.ini"
wait_until 10 bash -c "! '$CTL' --run-dir '$RUN' status witness >/dev/null 2>&1" ||
        fail "the witness was not removed"
assert_eq "$(ctl start app)" "starting 'app'" "start"
wait_until 10 state_is app running || fail "start did not run it"
ok "start runs it again"
pid=$(vassal_field app pid)
ctl restart app >/dev/null || fail "restart failed"
wait_until 10 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status app | python3 -c 'import json,sys; v=json.load(sys.stdin)[\"vassals\"][0]; print(v[\"pid\"] if v[\"state\"]==\"running\" else 0)')\" != '$pid' ] && [ \"\$('$CTL' --run-dir '$RUN' --json status app | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"state\"])')\" = running ]" ||
        fail "restart did not replace it"
ok "restart replaces it"
pid=$(vassal_field app pid)
ctl reload app >/dev/null || fail "reload failed"
wait_until 10 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status app | python3 -c 'import json,sys; v=json.load(sys.stdin)[\"vassals\"][0]; print(v[\"pid\"] if v[\"state\"]==\"running\" else 0)')\" != '$pid' ]" ||
        fail "reload did not replace it"
ok "reload replaces it"
ctl reload --all >/dev/null || fail "reload --all failed"
ok "reload --all"
ctl stop nope >/dev/null 2>&1
assert_eq "$?" "3" "an unknown vassal exits 3"
ctl frobnicate >/dev/null 2>&1
assert_eq "$?" "2" "an unknown command exits 2"
"$CTL" --run-dir "$T/nowhere" status >/dev/null 2>&1
assert_eq "$?" "4" "no daemon exits 4"
