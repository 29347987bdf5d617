# --tyrant without --http-auth: the dashboard shows a caller what the control socket would
# show its uid (found from the loopback connection), no more: the vassals whose ini it owns.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
HP=$(free_port)
start_emperor --tyrant --http 127.0.0.1:$HP
chmod 0755 "$T" "$CONF" # the vassal runs as nobody
P1=$(free_port); P2=$(free_port)
make_ini mine $P1
chown nobody:nogroup "$CONF/mine.ini"
touch "$CONF/mine.ini"
make_ini roots $P2
wait_until 10 state_is mine running || fail "nobody's vassal did not start: $(ctl status mine)"
wait_until 10 state_is roots config-error || fail "root's vassal not listed"
B=http://127.0.0.1:$HP
names() { python3 -c 'import json,sys; print(" ".join(sorted(v["name"] for v in json.load(sys.stdin)["vassals"])))'; }

wait_until 10 http_ok $B/api/vassals || fail "no API"
assert_eq "$(curl -s $B/api/vassals | names)" "mine roots" "root sees every vassal"
assert_eq "$(as_nobody curl -s $B/api/vassals | names)" "mine" "nobody sees their own vassal only"
assert_eq "$(as_nobody curl -s -o /dev/null -w '%{http_code}' $B/api/vassals/roots)" "404" "root's vassal does not exist for nobody"
assert_eq "$(as_nobody curl -s -o /dev/null -w '%{http_code}' "$B/api/vassals/roots/events")" "404" "nor its events"
assert_eq "$(as_nobody curl -s -o /dev/null -w '%{http_code}' "$B/api/vassals/mine/events")" "200" "their own events: 200"
ev=$(as_nobody curl -s "$B/api/events?since=1h")
assert_contains "$ev" '"vassal":"mine"' "the fleet's events: nobody's own"
case "$ev" in *'"vassal":"roots"'*) fail "nobody sees root's events" ;; esac
ok "and not root's"
m=$(as_nobody curl -s $B/metrics)
assert_contains "$m" 'emperor_vassal_up{vassal="mine"}' "/metrics: nobody's vassal"
case "$m" in *'vassal="roots"'*) fail "/metrics shows root's vassal to nobody" ;; esac
ok "/metrics: not root's"
stream=$(as_nobody curl -s -N --max-time 2 $B/api/stream)
assert_contains "$stream" '"name":"mine"' "the stream: nobody's vassal"
case "$stream" in *'"name":"roots"'*) fail "the stream shows root's vassal to nobody" ;; esac
ok "the stream: not root's"
csrf=$(as_nobody curl -s $B/api/session | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
assert_eq "$(as_nobody curl -s -o /dev/null -w '%{http_code}' -X POST -H "Origin: $B" -H "X-CSRF-Token: $csrf" $B/api/vassals/roots/stop)" \
        "404" "nobody cannot act on root's vassal"
assert_eq "$(as_nobody curl -s -o /dev/null -w '%{http_code}' -X POST -H "Origin: $B" -H "X-CSRF-Token: $csrf" $B/api/vassals/mine/stop)" \
        "200" "nobody may stop their own"
wait_until 15 state_is mine stopped || fail "mine did not stop"
ok "mine stopped"
