# nginx (Debian's) in front: uwsgi_pass to a TCP `socket` and to a unix socket with
# chmod-socket, and proxy_pass to the http-socket, as users deploy it.
. "$(dirname "$0")/lib.sh"

command -v nginx >/dev/null || fail "nginx is not installed (make deps)"
P_UWSGI=$(free_port); P_HTTP=$(free_port); P_NGINX=$(free_port)
SOCK="$T/app.sock"
start_vassal v --socket 127.0.0.1:$P_UWSGI --socket "$SOCK" --chmod-socket 660 \
        --chown-socket nobody:nogroup \
        --http-socket 127.0.0.1:$P_HTTP --wsgi-file "$APPS/testapp.py" --processes 2 --threads 2
wait_ready v http://127.0.0.1:$P_HTTP/
wait_until 5 test -S "$SOCK" || fail "unix socket not created"
assert_eq "$(stat -c %a "$SOCK")" "660" "chmod-socket applied"
assert_eq "$(stat -c %U:%G "$SOCK")" "nobody:nogroup" "chown-socket applied"

mkdir -p "$T/nginx/tmp"
cat >"$T/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path       $T/nginx/tmp/proxy;
    fastcgi_temp_path     $T/nginx/tmp/fastcgi;
    uwsgi_temp_path       $T/nginx/tmp/uwsgi;
    scgi_temp_path        $T/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$P_NGINX;
        client_max_body_size 20m;
        location /unix/ {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:$SOCK;
        }
        location /proxy/ {
            proxy_pass http://127.0.0.1:$P_HTTP/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass 127.0.0.1:$P_UWSGI;
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

assert_eq "$(curl -s $N/)" "Hello World" "uwsgi_pass over TCP"
assert_eq "$(curl -s $N/unix/x)" "not found: /unix/x" "uwsgi_pass over a unix socket"
env=$(curl -s "$N/environ?q=1")
assert_contains "$env" '"QUERY_STRING": "q=1"' "QUERY_STRING through nginx"
assert_contains "$env" '"PATH_INFO": "/environ"' "PATH_INFO through nginx"
assert_contains "$env" '"REQUEST_METHOD": "GET"' "REQUEST_METHOD through nginx"
case "$env" in *HTTP_CONTENT_LENGTH*) fail "HTTP_CONTENT_LENGTH leaked into environ" ;; esac
ok "no HTTP_CONTENT_LENGTH duplicate"
assert_eq "$(curl -s --data-binary 'via nginx' $N/echo)" "via nginx" "POST body through uwsgi_pass"
head -c 3000000 /dev/urandom >"$T/big.bin"
want="3000000 $(sha256sum "$T/big.bin" | cut -d' ' -f1)"
assert_eq "$(curl -s --data-binary @"$T/big.bin" $N/sha256)" "$want" "3 MB body through uwsgi_pass"
assert_contains "$(curl -s $N/stream)" "part 4" "streamed response through uwsgi_pass"
assert_eq "$(curl -s "$N/big?2000000" | wc -c)" "2000000" "2 MB response through uwsgi_pass"
assert_eq "$(status_of $N/exception)" "500" "app exception through nginx"
assert_eq "$(curl -s $N/proxy/)" "Hello World" "proxy_pass to the http-socket"
assert_contains "$(curl -s $N/proxy/stream)" "part 4" "chunked response through proxy_pass"

# A uwsgi packet larger than buffer-size is refused with the reason in the log.
python3 - "$P_UWSGI" <<'PY' >"$T/bigpacket.out"
import socket, struct, sys
def var(k, v):
    return struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
body = var(b"REQUEST_METHOD", b"GET") + var(b"PATH_INFO", b"/") + var(b"HTTP_COOKIE", b"c" * 20000)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(struct.pack("<BHB", 0, len(body), 0) + body)
print(s.recv(100).split(b"\r\n")[0].decode())
PY
assert_eq "$(cat "$T/bigpacket.out")" "HTTP/1.1 431 Request Header Fields Too Large" "oversized uwsgi packet -> 431"
assert_file_contains "$T/v.log" "is larger than buffer-size" "oversized packet explained in the log"

# A burst through nginx: every request answered.
if command -v ab >/dev/null; then
        out=$(ab -q -n 2000 -c 50 $N/ 2>&1)
        assert_contains "$out" "Failed requests:        0" "2000 requests through nginx, none failed"
        case "$out" in *"Non-2xx"*) fail "non-2xx responses through nginx" ;; esac
fi
