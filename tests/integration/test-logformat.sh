# The request log as uWSGI users configure it: uWSGI's default line with the client's address
# that nginx passes through uwsgi_pass (not the socket's peer), log-x-forwarded-for, logformat
# with %(var)s and logformat-strftime, req-logger/logger = file:PATH with log-maxsize, log-date,
# disable-logging with log-4xx/log-5xx/log-slow, log-micros, and bad values in --check.
. "$(dirname "$0")/lib.sh"

command -v nginx >/dev/null || fail "nginx is not installed (make deps)"

# ---- --check: bad values are file:line errors, exit 78 ----
cat >"$T/bad.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:1
wsgi-file = app.py
logformat = %(addr) %(method
req-logger = syslog:myapp
logger = file:$T/ok.log
INI
out=$("$VASSAL" --check "$T/bad.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "bad logging values exit 78"
assert_contains "$out" "$T/bad.ini:4: logformat: expected a ')' closing the '%(' at offset 8" \
        "an unclosed %( is named with its line"
assert_contains "$out" "$T/bad.ini:5: req-logger: expected file:PATH" "syslog: is refused"
assert_contains "$out" "syslog:, rsyslog:, socket:" "... naming what is not supported"
cat >"$T/good.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:1
wsgi-file = app.py
logformat = %(addr) %(request_id) %(status)
log-date = %Y-%m-%d
INI
out=$("$VASSAL" --check "$T/good.ini" 2>&1); rc=$?
assert_eq "$rc" "0" "an app-defined %(name) is not an error"
assert_contains "$out" "unknown variable %(request_id)" "... but is warned about"

# ---- behind nginx: uwsgi_pass over a unix socket, clients from another loopback address ----
P_HTTP=$(free_port); P_UWSGI=$(free_port); P_NGINX=$(free_port); P_B=$(free_port)
SOCK="$T/a.sock"
start_vassal a --socket "$SOCK" --http-socket 127.0.0.1:$P_HTTP --wsgi-file "$APPS/testapp.py" \
        --logto "$T/a.log"
cat >"$T/b.ini" <<INI
[uwsgi]
socket = 127.0.0.1:$P_UWSGI
http-socket = 127.0.0.1:$P_B
wsgi-file = $APPS/testapp.py
log-x-forwarded-for = true
logformat = %(addr) "%(method) %(uri) %(proto)" %(status) %(rsize) %(wid) "%(uagent)" %Y
logformat-strftime = true
req-logger = file:$T/b-req.log
logger = file:$T/b-server.log
log-date = [%%Y]:
log-maxsize = 2000
INI
start_vassal b "$T/b.ini"
wait_ready a http://127.0.0.1:$P_HTTP/
wait_until 10 test -S "$SOCK" || fail "unix socket not created"
wait_ready b http://127.0.0.1:$P_B/

mkdir -p "$T/nginx/tmp"
cat >"$T/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path       $T/nginx/tmp/proxy;
    fastcgi_temp_path     $T/nginx/tmp/fastcgi;
    uwsgi_temp_path       $T/nginx/tmp/uwsgi;
    scgi_temp_path        $T/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$P_NGINX;
        location /b/ {
            include /etc/nginx/uwsgi_params;
            uwsgi_param HTTP_X_FORWARDED_FOR \$proxy_add_x_forwarded_for;
            uwsgi_pass 127.0.0.1:$P_UWSGI;
        }
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:$SOCK;
        }
    }
}
CONF
nginx -t -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx.log" 2>"$T/nginx-t.log" ||
        fail "nginx -t: $(cat "$T/nginx-t.log")"
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx.log" &
PIDS+=($!)
N=http://127.0.0.1:$P_NGINX
wait_until 10 http_ok $N/ || fail "nginx did not come up"

# The default line, byte for byte in structure; the address is the client's (127.0.0.2),
# which nginx sends as REMOTE_ADDR: the unix socket's peer has none.
curl -s -o /dev/null --interface 127.0.0.2 "$N/nope?via=nginx" || fail "curl through nginx"
wait_until 5 grep -q "GET /nope?via=nginx" "$T/a.log" || fail "no request line"
line=$(grep "GET /nope?via=nginx" "$T/a.log")
re='^\[pid: [0-9]+\|app: 0\|req: ([0-9]+)/\1\] 127\.0\.0\.2 \(\) \{[0-9]+ vars in [0-9]+ bytes\} \[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}\] GET /nope\?via=nginx => generated 17 bytes in [0-9]+ msecs \(HTTP/1\.[01] 404\) [0-9]+ headers in [0-9]+ bytes \(1 switches on core 0\)$'
printf '%s\n' "$line" | grep -Eq "$re" || fail "not uWSGI's default line: $line"
ok "uWSGI's default line, with nginx's REMOTE_ADDR: $line"
curl -s -o /dev/null "http://127.0.0.1:$P_HTTP/direct"
wait_until 5 grep -q "GET /direct" "$T/a.log" || fail "no line for a direct request"
grep "GET /direct" "$T/a.log" | grep -q '^\[pid: [0-9]*|app: 0|req: [0-9]*/[0-9]*\] 127\.0\.0\.1 () ' ||
        fail "a direct request logs the peer: $(grep "GET /direct" "$T/a.log")"
ok "over http-socket, REMOTE_ADDR is the peer"

# log-x-forwarded-for, logformat (with strftime on its text), req-logger, logger, log-date.
curl -s -o /dev/null --interface 127.0.0.2 -A "agent/1" -H "X-Forwarded-For: 198.51.100.7" \
        "$N/b/x?%Y" || fail "curl through nginx to b"
wait_until 5 grep -q "/b/x" "$T/b-req.log" || fail "no line in req-logger's file"
assert_eq "$(grep /b/x "$T/b-req.log")" \
        "198.51.100.7 \"GET /b/x?%Y HTTP/1.1\" 404 16 1 \"agent/1\" $(date +%Y)" \
        "logformat: X-Forwarded-For's first address, strftime on the text only"
grep -q "/b/x" "$T/b-server.log" && fail "a request line in logger's file too"
ok "request lines go to req-logger's file only"
curl -s -o /dev/null "http://127.0.0.1:$P_B/print"
wait_until 5 grep -q "^\[$(date +%Y)\]:app says hello on stdout" "$T/b-server.log" ||
        fail "log-date: no dated app line in logger's file: $(cat "$T/b-server.log")"
ok "logger = file:PATH is the log, log-date dates the app's lines"
for i in $(seq 40); do curl -s -o /dev/null "$N/b/rotate-$i"; done
wait_until 5 bash -c "cat '$T'/b-req.log* | grep -c /b/rotate- | grep -qx 40" ||
        fail "request lines lost in rotation: $(cat "$T"/b-req.log* | grep -c /b/rotate-)"
ls "$T"/b-req.log.* >/dev/null 2>&1 || fail "req-logger's file never rotated: $(ls "$T")"
[ "$(stat -c %s "$T/b-req.log")" -le 2000 ] || fail "req-logger's file past log-maxsize"
ok "req-logger's file rotates at log-maxsize, every line kept"

# ---- disable-logging with log-4xx, log-5xx, log-slow; log-micros ----
P=$(free_port)
start_vassal c --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --disable-logging \
        --log-4xx --log-5xx --log-slow 300 --log-micros
wait_ready c http://127.0.0.1:$P/
curl -s -o /dev/null "http://127.0.0.1:$P/fast"
curl -s -o /dev/null "http://127.0.0.1:$P/"
curl -s -o /dev/null "http://127.0.0.1:$P/exception"
curl -s -o /dev/null "http://127.0.0.1:$P/sleep?0.5"
curl -s -o /dev/null "http://127.0.0.1:$P/sleep?0.01"
curl -s -o /dev/null "http://127.0.0.1:$P/last"
wait_until 5 grep -q "GET /last" "$T/c.log" || fail "no line for the 404"
grep -q "GET /exception => generated [0-9]* bytes in [0-9]* micros (HTTP/1.1 500)" "$T/c.log" ||
        fail "log-5xx: $(grep exception "$T/c.log")"
grep -q "GET /sleep?0.5 => generated 6 bytes in [0-9]* micros (HTTP/1.1 200)" "$T/c.log" ||
        fail "log-slow: $(grep sleep "$T/c.log")"
grep -q "GET /fast => generated" "$T/c.log" || fail "log-4xx: no 404 line"
grep -q "GET / =>\|GET /sleep?0.01" "$T/c.log" && fail "fast 200s logged despite disable-logging"
ok "disable-logging: only 4xx, 5xx and slow requests are logged, in micros"
