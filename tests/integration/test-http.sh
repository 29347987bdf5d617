# HTTP/1.1 on an http-socket: keep-alive, pipelining, HEAD, environ, and every kind of bad
# request answered with its 4xx while the worker goes on serving.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
start_vassal v --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --processes 1 \
        --threads 2 --socket-timeout 2 --buffer-size 4096
wait_ready v http://127.0.0.1:$P/

assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "GET /"
assert_eq "$(status_of http://127.0.0.1:$P/nope)" "404" "app 404"

# environ: PEP 3333 keys, decoded PATH_INFO, raw REQUEST_URI, Host without port.
env=$(curl -s -H 'X-Custom-Header: v1' "http://127.0.0.1:$P/environ?a=1&b=%20")
assert_contains "$env" '"QUERY_STRING": "a=1&b=%20"' "QUERY_STRING raw"
assert_contains "$env" '"HTTP_X_CUSTOM_HEADER": "v1"' "HTTP_* headers"
assert_contains "$env" '"SERVER_NAME": "127.0.0.1"' "SERVER_NAME from Host"
assert_contains "$env" "\"SERVER_PORT\": \"$P\"" "SERVER_PORT"
assert_contains "$env" '"REMOTE_ADDR": "127.0.0.1"' "REMOTE_ADDR"
assert_contains "$env" '"wsgi.url_scheme": "http"' "url_scheme"
assert_contains "$env" '"wsgi.version": [1, 0]' "wsgi.version"
assert_contains "$env" '"wsgi.multithread": true' "multithread with 2 threads"
assert_contains "$env" '"has_file_wrapper": true' "file_wrapper offered"
assert_contains "$(curl -s "http://127.0.0.1:$P/environ/a%20b")" '"PATH_INFO": "/environ/a b"' "PATH_INFO decoded"

# Keep-alive: curl reuses one connection for both URLs.
out=$(curl -sv http://127.0.0.1:$P/ http://127.0.0.1:$P/ 2>&1)
assert_contains "$out" "Re-using existing connection" "keep-alive reuses the connection"

# Pipelining: three requests in one write, three responses in order.
out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P)
n=$(printf '%s' "$out" | grep -c '^HTTP/1.1 ')
assert_eq "$n" "3" "three pipelined responses"
assert_eq "$(printf '%s' "$out" | grep '^HTTP/1.1 ' | tr -d '\r' | tr '\n' ',')" \
        "HTTP/1.1 200 OK,HTTP/1.1 404 Not Found,HTTP/1.1 200 OK," "pipelined in order"

# HEAD: headers with the length, no body.
printf 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P >"$T/head.out"
assert_file_contains "$T/head.out" "Content-Length: 12" "HEAD keeps Content-Length"
assert_eq "$(tail -c 4 "$T/head.out" | od -An -tx1 | tr -d ' \n')" "0d0a0d0a" "HEAD has no body"

# HTTP/1.0: no keep-alive unless asked, closed after the response.
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | raw $P)
assert_contains "$out" "Connection: close" "HTTP/1.0 closes"
assert_contains "$out" "Hello World" "HTTP/1.0 body"
out=$(printf 'GET /stream HTTP/1.0\r\n\r\n' | raw $P)
assert_contains "$out" "part 4" "HTTP/1.0 streamed body without chunking"

# Bad requests: each gets its status, and the worker serves the next one.
expect_status() {
        local want=$1 what=$2
        local got
        got=$(raw $P 6 | head -n 1 | tr -d '\r')
        assert_eq "$got" "HTTP/1.1 $want" "$what"
}
printf 'garbage\r\n\r\n' | expect_status "400 Bad Request" "garbage request line"
printf 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello' | expect_status "400 Bad Request" "duplicated Content-Length"
printf 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n' | expect_status "400 Bad Request" "negative Content-Length"
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n' | expect_status "400 Bad Request" "non-numeric Content-Length"
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' | expect_status "400 Bad Request" "Content-Length with chunked"
printf 'GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n' | expect_status "400 Bad Request" "obs-fold"
printf 'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n' | expect_status "501 Not Implemented" "unknown transfer-encoding"
printf 'GET / HTTP/2.0\r\nHost: x\r\n\r\n' | expect_status "505 HTTP Version Not Supported" "HTTP/2.0 request line"
printf 'GET / HTTP/1.1\r\n\r\n' | expect_status "400 Bad Request" "HTTP/1.1 without Host"
big=$(head -c 5000 /dev/zero | tr '\0' a)
printf 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$big" | expect_status "431 Request Header Fields Too Large" "header over buffer-size"
printf 'GET / HTTP/1.1\r\nHost: x\r\n' | expect_status "408 Request Timeout" "client stops mid-head"
printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc' | expect_status "408 Request Timeout" "client stops mid-body"
printf 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n' | expect_status "400 Bad Request" "malformed chunked body"
printf '\x00\x01\x02\x03\xff\xfe\r\n\r\n' | expect_status "400 Bad Request" "binary junk"

# After all that, the worker is alive and serving.
assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "still serving after bad requests"
grep -q "exited\|killed" "$T/v.log" && fail "a worker died: $(grep 'exited\|killed' "$T/v.log")"
ok "no worker died"
