# A real Flask app (Debian's python3-flask) served over http-socket with module = pkg:callable.
. "$(dirname "$0")/lib.sh"

/usr/bin/python3 -c 'import flask' 2>/dev/null || fail "python3-flask is not installed (make deps)"
P=$(free_port)
start_vassal v --http-socket 127.0.0.1:$P --chdir "$TOP/examples" --module flaskapp:app \
        --processes 2 --threads 4
wait_ready v http://127.0.0.1:$P/
U=http://127.0.0.1:$P

assert_eq "$(curl -s $U/)" "Hello from Flask" "Flask index"
assert_eq "$(curl -s "$U/hello/world?x=1")" "Hello world, args={'x': '1'}" "Flask route with args"
assert_eq "$(curl -s -H 'Content-Type: application/json' -d '{"a": [1, 2]}' $U/json)" \
        '{"method":"POST","received":{"a":[1,2]}}' "Flask JSON body"
assert_eq "$(curl -s -d 'name=x&v=%20y' $U/form)" '{"name":"x","v":" y"}' "Flask form body"
head -c 200000 /dev/urandom >"$T/up.bin"
assert_eq "$(curl -s -F "file=@$T/up.bin" $U/upload)" '{"name":"up.bin","size":200000}' \
        "Flask multipart upload"
assert_eq "$(curl -s -H 'Transfer-Encoding: chunked' -F "file=@$T/up.bin" $U/upload)" \
        '{"name":"up.bin","size":200000}' "Flask chunked multipart upload"
assert_eq "$(status_of $U/missing)" "404" "Flask 404"
