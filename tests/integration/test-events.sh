# The vassal's own events in the emperor's store (X_EVENT over NOTIFY_SOCKET): a worker
# recycled by max-requests and by reload-on-rss, a harakiri naming its request, a worker that
# died unasked, and log rotations naming the backup; a reload or a stop makes none of them.
. "$(dirname "$0")/lib.sh"

start_emperor --stats-interval 1
P=$(free_port)
make_ini app $P "max-requests = 5" "harakiri = 1" "reload-on-rss = 60" \
        "logto = $T/app.log" "log-maxsize = 2000" "disable-logging = false"
wait_until 15 state_is app running || fail "app did not start"

events() { ctl events app --since 5m --json; }
count() {  # KIND [DETAIL-SUBSTRING]: how many such events
        events | python3 -c '
import json, sys
kind, part = sys.argv[1], sys.argv[2]
print(sum(1 for e in json.load(sys.stdin) if e["kind"] == kind and part in (e["detail"] or "")))' "$1" "${2:-}"
}
at_least() { [ "$(count "$1" "${3:-}")" -ge "$2" ]; }

# 12 requests on one worker: at least two recycles by max-requests, each with its reason.
for i in $(seq 12); do curl -s -m 5 -o /dev/null http://127.0.0.1:$P/ || fail "request $i"; done
wait_until 10 at_least recycle 2 "max-requests reached: 5" ||
        fail "recycle events: $(events)"
ok "max-requests: $(count recycle "max-requests reached: 5") recycle events, with the reason"

# A stuck request: a harakiri event naming the request.
curl -s -m 10 -o /dev/null "http://127.0.0.1:$P/stuck?5" || true
wait_until 10 at_least harakiri 1 "GET /stuck" || fail "no harakiri event: $(events)"
assert_contains "$(events)" "killed by signal Killed: harakiri: GET /stuck" "the harakiri names the request"

# A leak past reload-on-rss: a recycle naming the limit.
curl -s -m 10 -o /dev/null "http://127.0.0.1:$P/leak?80" || fail "leak"
wait_until 10 at_least recycle 1 "reload-on-rss" || fail "no reload-on-rss recycle: $(events)"
ok "reload-on-rss: a recycle event with the memory"

# A worker killed from outside: a worker-exit event.
before=$(count worker-exit)
sleep 1  # the worker the leak's recycle started is the one to kill
wpid=$(pgrep -P "$(vassal_field app pid)" | head -1)
[ -n "$wpid" ] || fail "no worker pid"
kill -KILL "$wpid" || fail "cannot kill worker $wpid"
wait_until 10 at_least worker-exit $((before + 1)) "killed by signal Killed" ||
        fail "no worker-exit event: $(events)"
ok "a killed worker: a worker-exit event"

# Log rotations (2000 bytes a file, request lines on): events naming the backup.
for i in $(seq 40); do curl -s -m 5 -o /dev/null "http://127.0.0.1:$P/?$i-padding-padding-padding"; done
wait_until 10 at_least log-rotate 1 "rotated to '$T/app.log." || fail "no log-rotate event: $(events)"
ok "log rotations: $(count log-rotate) log-rotate events naming the backup"

# A reload replaces every worker, and a stop stops them: neither is a recycle or a death.
r0=$(count recycle); d0=$(count worker-exit); h0=$(count harakiri)
ctl reload app >/dev/null || fail "reload"
wait_until 15 state_is app running || fail "not running after the reload"
sleep 2
ctl stop app >/dev/null || fail "stop"
wait_until 15 state_is app stopped || fail "not stopped"
sleep 1
assert_eq "$(count recycle) $(count worker-exit) $(count harakiri)" "$r0 $d0 $h0" \
        "a reload and a stop make no recycle, worker-exit or harakiri event"
