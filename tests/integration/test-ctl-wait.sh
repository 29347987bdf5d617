# emperorctl --wait: reload, restart, start, stop and chain-reload return once done (the new
# vassal answers, or the port is closed) and print the new pid; a reload whose app does not
# import exits 1 with the vassal's error and the old one keeps serving; --timeout gives up on
# an app that never gets ready; no progress line off a terminal; rescan; the check's warnings
# show in status apart from its errors.
. "$(dirname "$0")/lib.sh"

start_emperor --ready-timeout 60
P=$(free_port)
U=http://127.0.0.1:$P
cp "$APPS/testapp.py" "$T/app.py"
ini() {
        {
                printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/app.py\n' $P "$T"
                printf 'processes = 2\nthreads = 2\ndisable-logging = true\nreload-mercy = 3\nfrobnicate = 1\n'
                for line in "$@"; do printf '%s\n' "$line"; done
        } >"$T/.app.ini"
        mv "$T/.app.ini" "$CONF/app.ini"
}
ini
wait_until 20 state_is app running || fail "app did not start"

# reload: the reply is the new pid, which serves at once (no wait_until after it).
old=$(vassal_field app pid)
capture ctl reload app --wait --timeout 60
expect 0 "reload --wait"
new=$(vassal_field app pid)
assert_eq "$out" "reloaded 'app' (pid $new)" "the reply names the new pid"
[ "$new" != "$old" ] || fail "the pid did not change ($old)"
assert_eq "$(vassal_field app state)" "running" "running when the reply comes"
assert_eq "$(curl -s -m 5 $U/)" "Hello World" "the new vassal answers at once"
assert_eq "$err" "" "no progress line when stderr is not a terminal"

# stop: the port is closed when the reply comes.
capture ctl stop app --wait --timeout 60
expect 0 "stop --wait"
assert_eq "$out" "stopped 'app'" "stop's reply"
assert_eq "$(vassal_field app state)" "stopped" "stopped when the reply comes"
curl -s -m 2 -o /dev/null $U/ && fail "the port still answers after stop --wait"
ok "the port is closed"

capture ctl start app --wait --timeout 60
expect 0 "start --wait"
assert_eq "$out" "started 'app' (pid $(vassal_field app pid))" "start's reply"
assert_eq "$(curl -s -m 5 $U/)" "Hello World" "started: answers at once"

old=$(vassal_field app pid)
capture ctl restart app --wait --timeout 60
expect 0 "restart --wait"
new=$(vassal_field app pid)
assert_eq "$out" "restarted 'app' (pid $new)" "restart's reply"
[ "$new" != "$old" ] || fail "restart kept pid $old"
assert_eq "$(curl -s -m 5 $U/)" "Hello World" "restarted: answers at once"

# chain-reload: the vassal's own reload (same master pid), done when it is ready again.
workers=$(pgrep -P "$new" | tr '\n' ' ')
capture ctl chain-reload app --wait --timeout 60
expect 0 "chain-reload --wait"
assert_eq "$out" "chain-reloaded 'app' (pid $new)" "chain-reload's reply"
w=$(curl -s -m 5 $U/environ | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
case " $workers " in *" $w "*) fail "an old worker ($w of $workers) answers after the chain reload" ;; esac
ok "a new worker answers at once ($w; the old were $workers)"

# A reload whose app does not import: exit 1 with the vassal's error; the old one serves.
old=$(vassal_field app pid)
printf 'raise RuntimeError("boom at import")\n' >"$T/bad.py"
cp "$T/app.py" "$T/good.py"
cp "$T/bad.py" "$T/app.py"
capture ctl reload app --wait --timeout 60
expect 1 "reload --wait of an app that does not import"
assert_contains "$err" "reload 'app' failed" "the error names the command"
assert_contains "$err" "RuntimeError: boom at import" "the error has the vassal's error"
assert_eq "$(vassal_field app pid)" "$old" "the old vassal still serves"
assert_eq "$(curl -s -m 5 $U/)" "Hello World" "and answers"

# --all: every running vassal, one reply for all.
cp "$T/good.py" "$T/app.py"
capture ctl reload --all --wait --timeout 60
expect 0 "reload --all --wait"
assert_contains "$out" "reloaded 'app' (pid" "reload --all's reply"

# --timeout: an app that never gets ready (the emperor's ready-timeout is 60 s).
printf 'import time\ntime.sleep(600)\n' >"$T/app.py"
capture ctl reload app --wait --timeout 1
expect 1 "reload --wait --timeout 1 of an app that never gets ready"
assert_contains "$err" "not done after 1 s" "it says it gave up"
cp "$T/good.py" "$T/app.py"
# A restart ends the hung reload: it waits for the stop of both, then the start.
capture ctl restart app --wait --timeout 60
expect 0 "restart --wait during a hung reload"
assert_eq "$(vassal_field app state)" "running" "running after it"

# Usage.
capture ctl status app --wait --timeout 60
expect 2 "status does not take --wait"
capture ctl reload app --timeout 3
expect 2 "--timeout without --wait"
capture ctl reload app --wait --timeout -1
expect 2 "a negative --timeout"

# rescan: a new ini is picked up by the command alone (inotify would see it too; the reply
# counts it).
capture ctl rescan
expect 0 "rescan"
assert_contains "$out" "rescanned the conf dir" "rescan's reply"

# The check's warnings: in status, apart from the last error.
ini "threads = lots"
wait_until 20 bash -c "'$CTL' --run-dir '$RUN' --json status app | grep -q 'threads: expected'" ||
        fail "no error for the broken ini: $(ctl status app)"
capture ctl status app
assert_contains "$out" "last error:   $CONF/app.ini:9: threads: expected" "the error is the last error"
assert_contains "$out" "warnings:     $CONF/app.ini:8: warning: unknown key 'frobnicate'" "the warning is a warning"
le=$(vassal_field app last_error)
case "$le" in *frobnicate*) fail "the warning is in last_error: $le" ;; esac
ok "the warning is not in last_error"
capture ctl status
assert_contains "$out" "app.ini:9: threads: exp" "the table shows the error, not the warning"
assert_contains "$err" "warning: the ini of app has warnings" "the table names the vassals with warnings"
