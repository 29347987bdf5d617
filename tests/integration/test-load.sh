# Load: `ab -n 10000 -c 300` without keep-alive (the default listen backlog is somaxconn, so no
# connection is reset), `ab -k`, and wrk's 100 keep-alive connections all served.
. "$(dirname "$0")/lib.sh"

command -v ab >/dev/null || fail "ab is not installed (make deps)"
P=$(free_port)
start_vassal v --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 \
        --threads 2 --disable-logging
wait_ready v http://127.0.0.1:$P/

out=$(ab -n 10000 -c 300 http://127.0.0.1:$P/ 2>&1)
assert_contains "$out" "Complete requests:      10000" "ab -c 300: all 10000 complete"
assert_contains "$out" "Failed requests:        0" "ab -c 300: none failed"
case "$out" in *"Non-2xx"*) fail "ab -c 300: non-2xx responses" ;; esac
echo "  ($(printf '%s\n' "$out" | grep 'Requests per second'))"

out=$(ab -k -n 10000 -c 100 http://127.0.0.1:$P/ 2>&1)
assert_contains "$out" "Failed requests:        0" "ab -k: none failed"
assert_contains "$out" "Keep-Alive requests:    10000" "ab -k: every request kept alive"

if command -v wrk >/dev/null; then
        # wrk's own counters: every one of its 100 connections must get answers (no timeouts,
        # no errors), which a server that pins a connection to a thread cannot do.
        out=$(wrk -t2 -c100 -d3s --timeout 2s http://127.0.0.1:$P/ 2>&1)
        echo "$out" | sed 's/^/    /'
        case "$out" in *"Socket errors"*) fail "wrk reported socket errors" ;; esac
        case "$out" in *"Non-2xx"*) fail "wrk got non-2xx responses" ;; esac
        ok "wrk: 100 keep-alive connections, no errors or timeouts"
fi
grep -q "exited\|killed" "$T/v.log" && fail "a worker died under load"
ok "no worker died"
