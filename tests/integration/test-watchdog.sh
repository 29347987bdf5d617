# `watchdog = N` (systemd's WatchdogSec for a vassal): the master pings the emperor twice a
# period from its event loop (WATCHDOG=1, after WATCHDOG_USEC= told it the period); a master
# that stops pinging (here kill -STOP) is killed with its workers and started again, with a
# `watchdog` event. One without the option is never timed.
. "$(dirname "$0")/lib.sh"

start_emperor
P=$(free_port)
make_ini dog $P "watchdog = 2"
wait_until 15 state_is dog running || fail "dog not running"
pid=$(vassal_field dog pid)
PIDS+=("$pid")
sleep 3
assert_eq "$(vassal_field dog pid)" "$pid" "a master that pings is left alone"
kill -STOP "$pid"
wait_until 15 bash -c "[ \"\$('$CTL' --run-dir '$RUN' --json status dog | /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin)[\"vassals\"][0]; print(v[\"pid\"] if v[\"state\"] == \"running\" else 0)')\" != 0 ] && [ \"\$('$CTL' --run-dir '$RUN' --json status dog | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"pid\"])')\" != $pid ]" ||
        fail "a master that stopped pinging was not replaced: $(ctl status dog)"
gone "$pid" || { kill -CONT "$pid"; fail "the stopped master $pid is still there"; }
ok "a master that misses its watchdog is killed and started again"
wait_until 10 http_ok http://127.0.0.1:$P/ || fail "not serving after the restart"
assert_contains "$(ctl events dog)" "missed its watchdog" "the watchdog event is recorded"
assert_file_contains "$T/emperor.log" "missed its watchdog" "and logged"
