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
# beta's first report may come a tick after alpha's 26th request: wait for it.
wait_until 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$HP/metrics | grep 'emperor_vassal_workers{vassal=\"beta\"}' | awk '{print \$2}')\" = 1 ]" ||
        fail "no workers gauge for beta: $(curl -s http://127.0.0.1:$HP/metrics | grep 'vassal="beta"' | head -5)"
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

# Errors, response times (a histogram) and CPU, from the vassals' X_STATS: beta gets a known
# mix of requests.
send() { # send N PATH STATUS: N requests to beta, each answered STATUS
        local i code
        for i in $(seq "$1"); do
                code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P2$2")
                [ "$code" = "$3" ] || fail "beta $2: status $code, expected $3"
        done
}
send 10 / 200
send 3 /status500 500
send 2 /exception 500
send 2 /raise-mid-stream 200
send 4 "/sleep?0.05" 200
send 1 "/spin?1" 200
wait_until 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$HP/metrics | grep '^emperor_vassal_requests_total{vassal=\"beta\"}' | awk '{print \$2}')\" = 22 ]" ||
        fail "requests_total for beta is not 22: $(curl -s http://127.0.0.1:$HP/metrics | grep requests_total)"
assert_eq "$(metric emperor_vassal_errors_total beta)" "7" "errors_total: 3 x 500, 2 raised, 2 raised mid-stream"
assert_eq "$(metric emperor_vassal_errors_total alpha)" "1" "errors_total of alpha: its exception"
wait_until 5 bash -c "curl -s http://127.0.0.1:$HP/metrics | grep -q '^emperor_vassal_cpu_seconds_total{vassal=\"beta\"}'" ||
        fail "no cpu_seconds_total for beta"
curl -s http://127.0.0.1:$HP/metrics >"$T/metrics.txt"
/usr/bin/python3 - "$T/metrics.txt" <<'PYEOF' || fail "the response_seconds histogram or cpu_seconds_total: $(grep -E 'response_seconds|cpu_seconds' "$T/metrics.txt")"
import math, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
h = fams["emperor_vassal_response_seconds"]
assert h.type == "histogram", h.type
def hist(vassal):
    buckets = sorted((float(s.labels["le"]), s.value) for s in h.samples
                     if s.name.endswith("_bucket") and s.labels["vassal"] == vassal)
    one = lambda suffix: [s.value for s in h.samples
                          if s.name == h.name + suffix and s.labels["vassal"] == vassal]
    return buckets, one("_sum"), one("_count")
for vassal, sent in (("alpha", 26), ("beta", 22)):
    buckets, sums, counts = hist(vassal)
    assert len(buckets) > 20 and buckets[-1][0] == math.inf, buckets
    values = [v for _, v in buckets]
    assert values == sorted(values), ("not cumulative", vassal, buckets)
    assert counts == [sent] and buckets[-1][1] == sent, (vassal, counts, buckets[-1])
    assert len(sums) == 1 and sums[0] > 0, sums
b = dict(hist("beta")[0])
# 4 requests slept 50 ms and one spun 1 s: never in the buckets below those.
assert b[0.04] <= 17 and b[1] <= 21 and b[0.00025] <= b[0.04], b
assert hist("beta")[1][0] >= 4 * 0.05 + 1, hist("beta")[1]
# The parser names a counter's family without its _total.
cpu = fams.get("emperor_vassal_cpu_seconds") or fams["emperor_vassal_cpu_seconds_total"]
assert cpu.type == "counter"
beta_cpu = [s.value for s in cpu.samples if s.labels["vassal"] == "beta"]
assert len(beta_cpu) == 1 and beta_cpu[0] > 0.1, beta_cpu
assert "emperor_vassal_avg_response_seconds" in fams
PYEOF
ok "response_seconds: a histogram (cumulative buckets, +Inf = _count = requests sent: 26 and 22), cpu_seconds_total > 0.1 after a 1 s spin"
dups=$(grep '^# TYPE' "$T/metrics.txt" | sort | uniq -d)
[ -z "$dups" ] || fail "a family typed twice: $dups"
[ "$(grep -c '^# HELP emperor_vassal_response_seconds ' "$T/metrics.txt")" = 1 ] || fail "histogram HELP not once"
ok "HELP and TYPE once per family"

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
