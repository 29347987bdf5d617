# PEP 3333 behaviour: streaming, write(), file_wrapper (sendfile), close() always called,
# exc_info, and app errors: an exception, a str body, a CR/LF header, a bad status, a missing
# start_response -> 500 with a log line saying why, and the worker lives on.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
start_vassal v --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1
wait_ready v http://127.0.0.1:$P/
U=http://127.0.0.1:$P

out=$(curl -si $U/stream)
assert_contains "$out" "Transfer-Encoding: chunked" "generator without length is chunked"
assert_contains "$out" "part 0" "first streamed part"
assert_contains "$out" "part 4" "last streamed part"
assert_eq "$(curl -s $U/write)" "written and returned" "write() callable then iterable"
assert_eq "$(curl -s $U/empty-then-body)" "late body" "empty first item holds the head back"
curl -s $U/file >"$T/file.out"
cmp -s "$T/file.out" "$APPS/testapp.py" || fail "file_wrapper body differs from the file"
ok "file_wrapper serves the file"
assert_contains "$(curl -si $U/file)" "Content-Length: $(stat -c %s "$APPS/testapp.py")" \
        "file_wrapper sets Content-Length"
out=$(curl -si $U/exc-info)
assert_contains "$out" "503 Service Unavailable" "exc_info replaces the status before sending"
assert_eq "$(status_of $U/status204)" "204" "204 without a body"

curl -s "$U/close-marker?closed-ok" >/dev/null
wait_until 5 test -f "$T/closed-ok" || fail "close() not called after a normal response"
ok "close() called after a normal response"
assert_eq "$(status_of "$U/close-marker-fail?closed-after-error")" "500" "exception while iterating -> 500"
wait_until 5 test -f "$T/closed-after-error" || fail "close() not called after an exception"
ok "close() called after an exception"

assert_eq "$(status_of $U/exception)" "500" "exception -> 500"
wait_until 5 grep -q "ValueError: deliberate failure for the test" "$T/v.log" || fail "no traceback"
ok "traceback in the log"
assert_eq "$(status_of $U/str-body)" "500" "str body -> 500"
wait_until 5 grep -q "returned str in its response, not bytes" "$T/v.log" || fail "no str log line"
ok "str body explained in the log"
out=$(curl -si $U/bad-header)
assert_contains "$out" "500 Internal Server Error" "CR/LF in a header -> 500"
case "$out" in *Injected*) fail "the injected header was sent" ;; esac
ok "the injected header never reached the client"
assert_eq "$(status_of $U/bad-status)" "500" "bad status line -> 500"
assert_eq "$(status_of $U/no-start-response)" "500" "no start_response -> 500"

curl -s $U/print >/dev/null
wait_until 5 grep -q "app says hello on wsgi.errors" "$T/v.log" || fail "wsgi.errors not logged"
assert_file_contains "$T/v.log" "app says hello on stdout" "app stdout in the log"
assert_file_contains "$T/v.log" "app says hello on stderr" "app stderr in the log"

# A 10 MB response to a reader that is slower than the server.
assert_eq "$(curl -s --limit-rate 20M "$U/big?10000000" | wc -c)" "10000000" "10 MB response"

assert_eq "$(curl -s $U/)" "Hello World" "still serving"
grep -q "exited\|killed" "$T/v.log" && fail "a worker died"
ok "no worker died"
