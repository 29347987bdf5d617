# The emperor's HTTP listener: /metrics in Prometheus text format (checked with the
# prometheus_client parser from Debian), and the JSON API the dashboard reads.
. "$(dirname "$0")/lib.sh"

/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
        fail "python3-prometheus-client is not installed (make deps)"
HP=$(free_port)
start_emperor --http 127.0.0.1:$HP --stats-interval 1
P1=$(free_port); P2=$(free_port)
make_ini alpha $P1
make_ini 'beta' $P2
wait_until 15 bash -c "'$CTL' --run-dir '$RUN' status | grep -c running | grep -qx 2" || fail "vassals not running"
for i in $(seq 25); do curl -s -o /dev/null http://127.0.0.1:$P1/; done
curl -s -o /dev/null http://127.0.0.1:$P1/exception

metric() { # NAME VASSAL: the sample's value, parsed by prometheus_client
        curl -s http://127.0.0.1:$HP/metrics | /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
name, vassal = sys.argv[1], sys.argv[2]
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        if s.name == name and s.labels.get("vassal") == vassal:
            print(int(s.value) if s.value == int(s.value) else s.value)
' "$1" "$2"
}
wait_until 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$HP/metrics | grep 'emperor_vassal_requests_total{vassal=\"alpha\"}' | awk '{print \$2}')\" = 26 ]" ||
        fail "requests_total for alpha is not 26: $(curl -s http://127.0.0.1:$HP/metrics | grep requests_total)"
assert_eq "$(metric emperor_vassal_requests_total alpha)" "26" "requests counted (parsed by prometheus_client)"
assert_eq "$(metric emperor_vassal_exceptions_total alpha)" "1" "exceptions counted"
assert_eq "$(metric emperor_vassal_up beta)" "1" "up gauge"
assert_eq "$(metric emperor_vassal_workers beta)" "1" "workers gauge"
rss=$(metric emperor_vassal_rss_bytes alpha)
[ -n "$rss" ] || fail "no rss_bytes for alpha"
ok "rss_bytes present ($rss)"
out=$(curl -s http://127.0.0.1:$HP/metrics)
assert_contains "$out" '# TYPE emperor_vassal_requests_total counter' "typed counter"
assert_contains "$out" 'emperor_vassals{state="running"} 2' "fleet gauge"
assert_contains "$out" 'emperor_resident_memory_bytes' "the emperor's own memory"
# The whole document parses.
curl -s http://127.0.0.1:$HP/metrics | /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
n = sum(1 for _ in text_string_to_metric_families(sys.stdin.read()))
assert n >= 12, n
' || fail "/metrics does not parse"
ok "/metrics parses as a whole"

api=$(curl -s http://127.0.0.1:$HP/api/vassals)
assert_eq "$(printf '%s' "$api" | python3 -c 'import json,sys; print(sorted(v["name"] for v in json.load(sys.stdin)["vassals"]))')" \
        "['alpha', 'beta']" "/api/vassals lists the fleet"
assert_eq "$(curl -s http://127.0.0.1:$HP/api/vassals/alpha | python3 -c 'import json,sys; print(json.load(sys.stdin)["sockets"])')" \
        "['127.0.0.1:$P1']" "/api/vassals/NAME details"
assert_eq "$(status_of http://127.0.0.1:$HP/api/vassals/nope)" "404" "unknown vassal 404"
assert_eq "$(status_of -X POST http://127.0.0.1:$HP/metrics)" "405" "POST 405"
assert_eq "$(status_of http://127.0.0.1:$HP/nothing)" "404" "unknown path 404"
assert_eq "$(printf 'garbage\r\n\r\n' | raw $HP | head -n1 | tr -d '\r')" "HTTP/1.1 400 Bad Request" "garbage 400"
assert_eq "$(curl -s http://127.0.0.1:$HP/api/vassals | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["vassals"]))')" "2" "still answering"
