# Connections spread over the worker processes: N slow requests at once to a vassal with P
# processes of many threads land about N/P on each (the stats server's per-worker counts and,
# while they sleep, the cores busy per worker), for P = 2 and P = 3. With every worker's idle
# threads parked on the listener, the kernel would otherwise hand every connection to the
# same process (EPOLLEXCLUSIVE wakes the first waiter in its queue).
. "$(dirname "$0")/lib.sh"

# stats PORT: the stats JSON.
stats() { curl -s --max-time 5 "http://127.0.0.1:$1/"; }
# per_worker PORT KEY: one number per worker: its 'requests', or 'busy' (cores in a request).
per_worker() {
        stats "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
key = sys.argv[1]
for w in sorted(s["workers"], key=lambda w: w["id"]):
    print(sum(1 for c in w["cores"] if c["in_request"]) if key == "busy" else w[key])' "$2" |
                tr '\n' ' '
}
# busy_is PORT N: N requests in flight in all; the per-worker numbers are left in $T/busy.
busy_is() {
        per_worker "$1" busy >"$T/busy"
        [ "$(awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }' "$T/busy")" = "$2" ]
}

# within LIST LOW HIGH: every number of LIST is in [LOW, HIGH].
within() {
        local x
        for x in $1; do [ "$x" -ge "$2" ] && [ "$x" -le "$3" ] || return 1; done
}

# run P THREADS N SLACK: N requests sleeping 3 s at once; each worker must be busy with, and
# serve, N/P of them give or take SLACK.
run() {
        local P=$1 threads=$2 N=$3 slack=$4
        port=$(free_port) sp=$(free_port)
        start_vassal "b$P" --http-socket 127.0.0.1:$port --wsgi-file "$APPS/testapp.py" \
                --processes $P --threads $threads --disable-logging --stats 127.0.0.1:$sp --stats-http
        wait_ready "b$P" "http://127.0.0.1:$port/"
        # Every worker up and counted (the first request went to one of them).
        wait_until 10 test "$(per_worker $sp requests | wc -w)" -eq $P || fail "not $P workers"
        before=$(per_worker $sp requests)

        python3 "$TOP/tests/integration/burst.py" $port $N "/sleep?3" >"$T/client$P.txt" 2>&1 &
        abpid=$!
        PIDS+=("$abpid")
        wait_until 10 busy_is $sp $N || fail "P=$P: $N requests not in flight: $(cat "$T/busy")"
        busy=$(cat "$T/busy")
        within "$busy" $((N / P - slack)) $((N / P + slack)) ||
                fail "P=$P: $N requests in flight are not spread over $P workers: busy $busy"
        ok "P=$P, $threads threads: $N slow requests in flight, busy per worker: $busy"
        wait "$abpid" || fail "P=$P: the client: $(cat "$T/client$P.txt")"
        after=$(per_worker $sp requests)
        served=$(paste -d- <(tr ' ' '\n' <<<"$after" | grep .) <(tr ' ' '\n' <<<"$before" | grep .) |
                bc | tr '\n' ' ')
        within "$served" $((N / P - slack)) $((N / P + slack)) ||
                fail "P=$P: requests per worker $served (before $before, after $after), want $((N / P)) each"
        ok "P=$P: requests served per worker: $served (N/P = $((N / P)))"
        pid_var="b${P}_pid"
        stop_pid "${!pid_var}"
}

# Many idle threads per worker: connections go round the workers. A burst of connects may give
# one worker more than its share (its threads and the next one's race for the backlog on two
# busy CPUs); without the rotation one worker gets them all.
run 2 40 40 10
run 3 40 60 10
# Every thread busy: a worker with none idle is skipped, so each is busy with its share.
run 2 4 8 0
