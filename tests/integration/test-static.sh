# Static files in C (static-map, static-map2, check-static, static-index, static-skip-ext,
# static-expires-uri): the headers, HEAD, 304 by ETag and by date, ranges (206, 416), 405,
# every way out of the mapped directory refused (.., encoded dots and slashes, NUL,
# backslashes, symlinks out), a 20 MB file whole, what is not a file reaching the app, and
# keep-alive after a static response; then the same files from a gevent worker. --check
# cites file:line for a bad value.
. "$(dirname "$0")/lib.sh"

W="$T/www"
mkdir -p "$W/docs" "$W/noindex" "$T/m2root/m2" "$T/public"
printf 'body{}\n' >"$W/a.css"
printf '<h1>docs</h1>\n' >"$W/docs/index.html"
printf 'x\n' >"$W/noindex/file.txt"
printf 'print("source")\n' >"$W/script.py"
printf 'TOPSECRET\n' >"$T/secret.txt"
ln -s /etc/passwd "$W/link-out"
ln -s ../secret.txt "$W/rel-out"
ln -s a.css "$W/link-in"
head -c 20971520 /dev/urandom >"$W/big.bin"
printf 'm2 file\n' >"$T/m2root/m2/x.txt"
printf 'User-agent: *\n' >"$T/public/robots.txt"

# ---- --check: a bad value is named where it is written ----
printf '[uwsgi]\nhttp-socket = :1\nwsgi-file = x.py\nstatic-map = /static\n' >"$T/bad.ini"
out=$("$VASSAL" --check "$T/bad.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "--check refuses a static-map without '='"
assert_contains "$out" "bad.ini:4: static-map: expected MOUNTPOINT=PATH" "the bad line is cited"
printf '[uwsgi]\nhttp-socket = :1\nwsgi-file = x.py\nstatic-expires-uri = ( 60\n' >"$T/bad2.ini"
out=$("$VASSAL" --check "$T/bad2.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "--check refuses a bad regular expression"
assert_contains "$out" "bad2.ini:4: static-expires-uri: expected" "the regex's line is cited"

P=$(free_port)
cat >"$T/static.ini" <<EOF
[uwsgi]
http-socket = 127.0.0.1:$P
wsgi-file = $APPS/testapp.py
processes = 1
threads = 2
static-map = /static=$W
static-map2 = /m2=$T/m2root
check-static = $T/public
static-index = index.html
static-skip-ext = .py
static-expires-uri = \.css\$ 3600
offload-threads = 2
EOF
start_vassal v "$T/static.ini"
wait_ready v http://127.0.0.1:$P/
U=http://127.0.0.1:$P

# ---- 200 with its headers ----
curl -s -D "$T/h" -o "$T/b" "$U/static/a.css"
h=$(tr -d '\r' <"$T/h")
assert_contains "$h" "HTTP/1.1 200 OK" "a mapped file: 200"
assert_contains "$h" "Content-Type: text/css" "Content-Type from the extension"
assert_contains "$h" "Content-Length: 7" "Content-Length"
assert_contains "$h" "Accept-Ranges: bytes" "Accept-Ranges"
assert_contains "$h" "Cache-Control: max-age=3600" "static-expires-uri: Cache-Control"
assert_contains "$h" "Expires: " "static-expires-uri: Expires"
assert_eq "$(cat "$T/b")" "body{}" "the body"
etag=$(printf '%s\n' "$h" | sed -n 's/^ETag: //p')
lastmod=$(printf '%s\n' "$h" | sed -n 's/^Last-Modified: //p')
[ -n "$etag" ] && [ -n "$lastmod" ] || fail "no ETag or Last-Modified in: $h"
ok "ETag $etag, Last-Modified $lastmod"
expires=$(printf '%s\n' "$h" | sed -n 's/^Expires: //p')
exp_s=$(date -d "$expires" +%s) || fail "Expires '$expires' is not a date"
now=$(date +%s)
[ $((exp_s - now)) -ge 3500 ] && [ $((exp_s - now)) -le 3700 ] ||
        fail "Expires '$expires' is not an hour from now"
ok "Expires is an hour from now"
h=$(curl -s -D - -o /dev/null "$U/static/docs/index.html" | tr -d '\r')
assert_contains "$h" "Content-Type: text/html" "text/html"
case "$h" in *Cache-Control*) fail "Cache-Control on a file static-expires-uri does not match" ;; esac
ok "no expiry where the regex does not match"
assert_eq "$(curl -s "$U/static/link-in")" "body{}" "a symlink inside the root is followed"

# ---- HEAD ----
printf 'HEAD /static/a.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P >"$T/head.out"
assert_file_contains "$T/head.out" "Content-Length: 7" "HEAD keeps Content-Length"
assert_eq "$(tail -c 4 "$T/head.out" | od -An -tx1 | tr -d ' \n')" "0d0a0d0a" "HEAD has no body"

# ---- 304 both ways ----
assert_eq "$(status_of -H "If-None-Match: $etag" "$U/static/a.css")" "304" "If-None-Match: 304"
assert_eq "$(status_of -H "If-None-Match: \"other\"" "$U/static/a.css")" "200" "another ETag: 200"
assert_eq "$(status_of -H "If-Modified-Since: $lastmod" "$U/static/a.css")" "304" \
        "If-Modified-Since: 304"
assert_eq "$(status_of -H "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT" "$U/static/a.css")" \
        "200" "modified since then: 200"
touch -d '+1 minute' "$W/a.css"
assert_eq "$(status_of -H "If-None-Match: $etag" "$U/static/a.css")" "200" \
        "a touched file has a new ETag"

# ---- ranges ----
h=$(curl -s -D - -o "$T/r" -H 'Range: bytes=1-3' "$U/static/a.css" | tr -d '\r')
assert_contains "$h" "HTTP/1.1 206 Partial Content" "Range: 206"
assert_contains "$h" "Content-Range: bytes 1-3/7" "Content-Range"
assert_eq "$(cat "$T/r")" "ody" "the range's bytes"
assert_eq "$(curl -s -H 'Range: bytes=-3' "$U/static/a.css")" "{}" "a suffix range"
assert_eq "$(curl -s -H 'Range: bytes=5-' "$U/static/a.css")" "}" "an open range"
h=$(curl -s -D - -o /dev/null -H 'Range: bytes=7-' "$U/static/a.css" | tr -d '\r')
assert_contains "$h" "HTTP/1.1 416 Range Not Satisfiable" "past the end: 416"
assert_contains "$h" "Content-Range: bytes */7" "416 names the size"
assert_eq "$(status_of -H 'Range: bytes=0-1,3-4' "$U/static/a.css")" "200" "several ranges: 200"

# ---- methods ----
h=$(curl -s -D - -o /dev/null -X POST -d 'x=1' "$U/static/a.css" | tr -d '\r')
assert_contains "$h" "HTTP/1.1 405 Method Not Allowed" "POST: 405"
assert_contains "$h" "Allow: GET, HEAD" "405 says what is allowed"

# ---- never outside the root ----
refused() { # PATH STATUS WHAT
        local body got
        got=$(curl -s --path-as-is -o "$T/esc" -w '%{http_code}' "$U$1")
        body=$(cat "$T/esc")
        case "$body" in *root:*|*TOPSECRET*) fail "$3: the file outside was served" ;; esac
        assert_eq "$got" "$2" "$3"
}
refused "/static/../secret.txt" 404 "'..' segment"
refused "/static/docs/../../secret.txt" 404 "'..' further down"
refused "/static/%2e%2e/secret.txt" 404 "encoded dots"
refused "/static/%2E%2e%2fsecret.txt" 404 "encoded dots and slash"
refused "/static/..%2fsecret.txt" 404 "encoded slash"
refused "/static/docs%2findex.html" 404 "encoded slash inside the root"
refused "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd" 404 "climbing to /etc/passwd"
refused "/static/a.css%00.png" 404 "encoded NUL"
refused "/static/..%5csecret.txt" 404 "encoded backslash"
refused "/static/link-out" 404 "a symlink to /etc/passwd"
refused "/static/rel-out" 404 "a symlink to ../secret.txt"
refused "/static/%zz" 400 "a malformed escape"
out=$(printf 'GET /static/..\\secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P)
case "$out" in *TOPSECRET*) fail "backslash: the file outside was served" ;; esac
assert_contains "$out" "HTTP/1.1 404" "a raw backslash"

# ---- 20 MB whole ----
curl -s -o "$T/big.out" "$U/static/big.bin"
assert_eq "$(sha256sum <"$T/big.out" | cut -d' ' -f1)" "$(sha256sum <"$W/big.bin" | cut -d' ' -f1)" \
        "a 20 MB file arrives whole"
curl -s -o "$T/big.range" -H 'Range: bytes=10000000-10999999' "$U/static/big.bin"
assert_eq "$(sha256sum <"$T/big.range" | cut -d' ' -f1)" \
        "$(tail -c +10000001 "$W/big.bin" | head -c 1000000 | sha256sum | cut -d' ' -f1)" \
        "a 1 MB range from its middle"

# ---- what is not a file goes to the app ----
assert_eq "$(curl -s "$U/")" "Hello World" "an unmapped URL reaches the app"
assert_eq "$(curl -s "$U/static/missing.css")" "not found: /static/missing.css" \
        "a missing file goes on to the app"
assert_eq "$(curl -s "$U/static/noindex/")" "not found: /static/noindex/" \
        "a directory without an index goes to the app"
assert_eq "$(curl -s "$U/static/docs/")" "<h1>docs</h1>" "static-index"
assert_eq "$(curl -s "$U/static/script.py")" "not found: /static/script.py" \
        "static-skip-ext leaves .py to the app"
assert_eq "$(curl -s "$U/staticx/a.css")" "not found: /staticx/a.css" \
        "a mount point matches whole segments"
assert_eq "$(curl -s "$U/m2/x.txt")" "m2 file" "static-map2 appends the whole path"
assert_eq "$(curl -s "$U/robots.txt")" "User-agent: *" "check-static"
assert_eq "$(curl -s "$U/environ/x%2fy" | grep -c PATH_INFO)" "1" \
        "check-static leaves an encoded slash outside mount points to the app"

# ---- keep-alive after a static response ----
out=$(curl -sv "$U/static/a.css" "$U/static/a.css" "$U/" 2>&1)
assert_contains "$out" "Re-using existing connection" "keep-alive after a static response"
assert_contains "$out" "Hello World" "and the app on the same connection"
out=$(printf 'GET /static/a.css HTTP/1.1\r\nHost: x\r\n\r\nPOST /static/a.css HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /static/%%2e%%2e/x HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw $P)
assert_eq "$(printf '%s' "$out" | grep '^HTTP/1.1 ' | tr -d '\r' | tr '\n' ',')" \
        "HTTP/1.1 200 OK,HTTP/1.1 405 Method Not Allowed,HTTP/1.1 404 Not Found,HTTP/1.1 200 OK," \
        "pipelined static, 405 with a body, 404 and app responses in order"

# The request log has the static requests too.
wait_until 5 grep -q "GET /static/a.css => generated .* (HTTP/1.1 200)" "$T/v.log" || fail "no log line for a static file"
ok "static requests are logged"

# ---- the gevent worker serves them the same way ----
if ldd "$VASSAL" 2>/dev/null | grep -q libasan || ! /usr/bin/python3 -c 'import gevent' 2>/dev/null; then
        echo "  skipped gevent: ASan build or no python3-gevent"
        exit 0
fi
G=$(free_port)
start_vassal g --http-socket 127.0.0.1:$G --wsgi-file "$APPS/testapp.py" --gevent 50 \
        --static-map "/static=$W"
wait_ready g http://127.0.0.1:$G/
curl -s -o "$T/gbig.out" "http://127.0.0.1:$G/static/big.bin" &
big=$!
assert_eq "$(curl -s "http://127.0.0.1:$G/static/a.css")" "body{}" "gevent: a static file"
assert_eq "$(curl -s "http://127.0.0.1:$G/")" "Hello World" "gevent: the app beside it"
wait "$big"
assert_eq "$(sha256sum <"$T/gbig.out" | cut -d' ' -f1)" "$(sha256sum <"$W/big.bin" | cut -d' ' -f1)" \
        "gevent: 20 MB whole"
assert_eq "$(status_of --path-as-is "http://127.0.0.1:$G/static/../secret.txt")" "404" \
        "gevent: '..' refused"
