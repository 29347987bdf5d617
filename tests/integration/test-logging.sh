# Logging: one line per request (uWSGI's default line: method, path, status, bytes, msecs) in `logto`, written by
# the master alone; app output and tracebacks in the same file; disable-logging keeps the rest;
# SIGUSR1 reopens the file after a rename.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
LOG="$T/app.log"
start_vassal v --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 2 \
        --threads 2 --logto "$LOG"
wait_ready v http://127.0.0.1:$P/
curl -s -o /dev/null "http://127.0.0.1:$P/nope?q=1"
curl -s -o /dev/null --data-binary 'xyz' "http://127.0.0.1:$P/echo"
curl -s -o /dev/null "http://127.0.0.1:$P/exception"
wait_until 5 grep -q "GET /exception => generated .* (HTTP/1.1 500)" "$LOG" || fail "no request line for /exception"
assert_file_contains "$LOG" "GET /nope?q=1 => generated 17 bytes in" "request line: method, uri, bytes"
grep -q "GET /nope?q=1 => generated 17 bytes in [0-9]* msecs (HTTP/1.1 404)" "$LOG" || fail "404 line: $(grep nope "$LOG")"
assert_file_contains "$LOG" "POST /echo => generated 3 bytes in" "POST request line"
assert_file_contains "$LOG" "msecs (HTTP/1.1 200)" "request line has the time"
assert_file_contains "$LOG" "ValueError: deliberate failure" "traceback in logto"
assert_file_contains "$LOG" "spawned worker 1" "master lines in logto"
[ -s "$T/v.log" ] && fail "stderr got output although logto is set: $(head -3 "$T/v.log")"
ok "nothing on stderr with logto"

# 2000 requests from 20 clients: exactly 2000 request lines, none torn.
before=$(grep -c '(HTTP/1.0 200)' "$LOG")
ab -q -n 2000 -c 20 "http://127.0.0.1:$P/" >/dev/null 2>&1 || fail "ab failed"
wait_until 5 bash -c "[ \$(grep -c '(HTTP/1.0 200)' '$LOG') -ge $((before + 2000)) ]" || fail "request lines missing"
assert_eq "$(grep -c '(HTTP/1.0 200)' "$LOG")" "$((before + 2000))" "one line per request"
bad=$(grep -v -E '^\[pid: [0-9]+\|app: 0\|req: [0-9]+/[0-9]+\] 127\.0\.0\.1 \(\) \{[0-9]+ vars in [0-9]+ bytes\} \[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [0-9]{4}\] [A-Z]+ [^ ]+ => generated [0-9]+ bytes in [0-9]+ msecs \(HTTP/1\.[01] [0-9]{3}\) [0-9]+ headers in [0-9]+ bytes \(1 switches on core [0-9]+\)$|^(vassal|vassal worker [0-9]+): |^Traceback|^  |^[A-Za-z]+Error|^$' "$LOG" | head -3)
[ -z "$bad" ] || fail "torn or foreign lines: $bad"
ok "no torn lines"

# SIGUSR1 after a rename: the new file gets the new lines.
mv "$LOG" "$LOG.1"
kill -USR1 "$v_pid"
wait_until 5 test -f "$LOG" || fail "log not reopened"
curl -s -o /dev/null "http://127.0.0.1:$P/after-reopen"
wait_until 5 grep -q "GET /after-reopen" "$LOG" || fail "no line in the reopened log"
ok "SIGUSR1 reopens the log"
stop_pid "$v_pid"

# disable-logging: no request lines, but the app's own output still arrives.
P=$(free_port)
start_vassal q --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --disable-logging
wait_ready q http://127.0.0.1:$P/
curl -s -o /dev/null "http://127.0.0.1:$P/print"
wait_until 5 grep -q "app says hello on stdout" "$T/q.log" || fail "app output lost"
grep -q "GET /print =>" "$T/q.log" && fail "request logged despite disable-logging"
ok "disable-logging drops request lines only"
