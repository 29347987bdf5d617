# A vassal master that hangs (kill -STOP, here by its own user: the vassal runs as nobody) is
# noticed: it reported its stats every second, then goes silent; after 10 s (and 5 of its
# intervals) the emperor logs it, records a `hung` event, kills its tree and restarts it as
# after a crash. A master that stops only for a moment is left alone.
. "$(dirname "$0")/lib.sh"

hostile_setup

start_emperor
P=$(free_port)
make_ini app $P "uid = nobody" "processes = 2"
wait_until 15 state_is app running || fail "app did not start"
wait_until 15 http_ok http://127.0.0.1:$P/ || fail "app does not serve"
has_stats() { [ -n "$(vassal_field app requests)" ]; }
wait_until 10 has_stats || fail "app never reported its stats"
master=$(vassal_field app pid)
workers=$(pgrep -P "$master" | tr '\n' ' ')
[ -n "$workers" ] || fail "no workers under $master"

# A pause shorter than the limit: nothing happens.
as_nobody kill -STOP "$master"
sleep 3
as_nobody kill -CONT "$master"
sleep 2
assert_eq "$(vassal_field app pid)" "$master" "a master stopped for 3 s is left alone"

events() { ctl events app --since 5m --json; }
hung_events() { events | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if e.get("kind") == "hung"))'; }
assert_eq "$(hung_events)" "0" "no hung event yet"

# Hung for good.
as_nobody kill -STOP "$master"
start=$SECONDS
new_master() { state_is app running && [ "$(vassal_field app pid)" != "$master" ]; }
wait_until 30 new_master || fail "the hung master was not replaced: $(ctl status app)"
took=$((SECONDS - start))
[ "$took" -ge 9 ] || fail "replaced after $took s, before the 10 s limit"
ok "the hung master was replaced after $took s"
# Killed, and reaped by the emperor (they are its orphans) within its reaper's round.
wait_until 10 gone "$master" || fail "the hung master $master is still there"
for w in $workers; do wait_until 10 gone "$w" || fail "its worker $w is still there"; done
ok "the hung master and its workers are gone"
wait_until 15 http_ok http://127.0.0.1:$P/ || fail "app does not serve after the restart"
ok "the new master serves"
assert_eq "$(hung_events)" "1" "emperorctl events shows one hung event"
assert_contains "$(events)" "sent no stats for" "saying why"
assert_file_contains "$T/emperor.log" "(pid $master) sent no stats for" "the emperor logs it"
wait_until 5 has_stats || fail "the new master does not report"
ok "the new master reports"
