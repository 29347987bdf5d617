# Request bodies: Content-Length and chunked, Expect: 100-continue, wsgi.input's read,
# readline, readlines and iteration, post-buffering into memory and into a temp file,
# limit-post, and a body the app never reads.
. "$(dirname "$0")/lib.sh"

P=$(free_port)
start_vassal v --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --threads 2 \
        --socket-timeout 3
wait_ready v http://127.0.0.1:$P/
U=http://127.0.0.1:$P

assert_eq "$(curl -s --data-binary 'hello body' $U/echo)" "hello body" "Content-Length body"
assert_eq "$(curl -s -H 'Transfer-Encoding: chunked' --data-binary 'chunked body' $U/echo)" \
        "chunked body" "chunked body"
assert_eq "$(curl -s --data-binary 'abcdefghijklmnopqrstuvwxyz' $U/read-small)" \
        "abcdefghijklmnopqrstuvwxyz" "read(7) in a loop"
assert_eq "$(printf 'line1\nline2\nline3\nlast' | curl -s --data-binary @- $U/echo-lines)" \
        '{"first": "line1\n", "rest": 3, "total": 22}' "readline and iteration"
assert_eq "$(printf 'a\nb\n' | curl -s --data-binary @- $U/echo-readlines)" \
        '["a\n", "b\n"]' "readlines"

# A 5 MB body, both framings, checked by hash.
head -c 5000000 /dev/urandom >"$T/big.bin"
want="5000000 $(sha256sum "$T/big.bin" | cut -d' ' -f1)"
assert_eq "$(curl -s --data-binary @"$T/big.bin" $U/sha256)" "$want" "5 MB Content-Length body"
assert_eq "$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.bin" $U/sha256)" \
        "$want" "5 MB chunked body"

# Expect: 100-continue: the interim response comes before the body is sent.
out=$(curl -sv -H 'Expect: 100-continue' --data-binary @"$T/big.bin" $U/sha256 2>&1)
assert_contains "$out" "HTTP/1.1 100 Continue" "100 Continue sent"
assert_contains "$out" "$want" "body after 100 Continue"

# A body the app ignores: drained, and the keep-alive connection serves the next request.
out=$(curl -sv --data-binary 'unread body' $U/ignore-body $U/ 2>&1)
assert_contains "$out" "Re-using existing connection" "connection kept after an unread body"
assert_contains "$out" "Hello World" "next request served after an unread body"

# Pipelined POST then GET on one connection: the body boundary is respected.
out=$(printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P)
assert_contains "$out" "hello" "pipelined POST body"
assert_contains "$out" "Hello World" "pipelined GET after a body"
out=$(printf 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P)
assert_contains "$out" "Hello World" "pipelined GET after a chunked body"

# post-buffering: small bodies in memory, large ones through a temp file; limit-post -> 413.
P2=$(free_port)
start_vassal pb --http-socket 127.0.0.1:$P2 --wsgi-file "$APPS/testapp.py" \
        --post-buffering 64k --limit-post 8M
wait_ready pb http://127.0.0.1:$P2/
assert_eq "$(curl -s --data-binary 'small' http://127.0.0.1:$P2/echo)" "small" "post-buffering in memory"
assert_eq "$(curl -s --data-binary @"$T/big.bin" http://127.0.0.1:$P2/sha256)" "$want" \
        "post-buffering through a temp file"
assert_eq "$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.bin" http://127.0.0.1:$P2/sha256)" \
        "$want" "post-buffering a chunked body"
head -c 9000000 /dev/zero >"$T/huge.bin"
assert_eq "$(status_of --data-binary @"$T/huge.bin" http://127.0.0.1:$P2/sha256)" "413" \
        "limit-post with Content-Length"
assert_eq "$(status_of -H 'Transfer-Encoding: chunked' --data-binary @"$T/huge.bin" http://127.0.0.1:$P2/sha256)" \
        "413" "limit-post with a chunked body"
assert_eq "$(curl -s http://127.0.0.1:$P2/)" "Hello World" "still serving"
