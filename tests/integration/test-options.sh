# uWSGI options a user moving over relies on, each with a real vassal: strict mode (in the
# vassal and in the emperor's check), socket addresses checked by --check, refused features
# named with their alternative, add-header, max-worker-lifetime(-delta), reload-on-exception,
# limit-as, need-app, mount + manage-script-name, pyargv.
. "$(dirname "$0")/lib.sh"

cat >"$T/optapp.py" <<'PY'
import json, mmap, os, resource, sys

def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise ValueError("deliberate failure for reload-on-exception")
    if path == "/rlimit":
        body = str(resource.getrlimit(resource.RLIMIT_AS)[0])
    elif path == "/alloc":
        # Mapped, never touched: without the limit it costs no memory.
        try:
            block = mmap.mmap(-1, 1024 * 1024 * 1024)
            body = "mapped %d" % len(block)
            block.close()
        except OSError as e:
            body = "OSError %d" % e.errno
    elif path == "/argv":
        body = json.dumps(sys.argv)
    else:
        body = json.dumps({"pid": os.getpid(), "script_name": environ.get("SCRIPT_NAME"),
                           "path_info": path})
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "yes")])
    return [body.encode()]
PY

check() { capture "$VASSAL" --check "$1"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

# ---- strict: unknown keys anywhere are errors, even above the strict line ----
printf '[uwsgi]\nhttp-socket = 127.0.0.1:1\nwsgi-file = app.py\nenable-thread = true\nstrict = true\n' \
        >"$T/strict.ini"
check "$T/strict.ini"
expect 78 "strict = true refuses an unknown key"
assert_contains "$err" "$T/strict.ini:4: unknown key 'enable-thread' (strict mode); did you mean 'enable-threads'?" \
        "the unknown key with file:line and a suggestion"
printf '[uwsgi]\nproject = p\nchdir = /tmp/%%(project)\nhttp-socket = 127.0.0.1:1\nwsgi-file = app.py\nstrict = true\n' \
        >"$T/strict-var.ini"
check "$T/strict-var.ini"
expect 0 "strict mode keeps keys used through %(key)"
sed -i 's/^strict = true$/strict = false/' "$T/strict.ini"
check "$T/strict.ini"
expect 0 "strict = false: an unknown key warns"
assert_contains "$err" "unknown key 'enable-thread', ignored" "the warning"

# ---- socket addresses: --check catches what bind would ----
for bad in "127.0.0.1:99999" "127.0.0.1:" "::1:8080" "999.1.1.1:80" "[::1:80" "bad_host:80" \
           "/tmp/$(printf 'x%.0s' $(seq 120)).sock"; do
        printf '[uwsgi]\nwsgi-file = app.py\nhttp-socket = %s\n' "$bad" >"$T/addr.ini"
        check "$T/addr.ini"
        expect 78 "http-socket = $bad refused"
        assert_contains "$err" "$T/addr.ini:3: http-socket: expected" "$bad: file:line and why"
done
for good in ":8080" "*:8080" "0.0.0.0:8080" "[::1]:8080" "localhost:8080" "app.sock" "@abstract" \
            "/run/app.sock"; do
        printf '[uwsgi]\nwsgi-file = app.py\nsocket = %s\n' "$good" >"$T/addr.ini"
        check "$T/addr.ini"
        expect 0 "socket = $good accepted"
done

# ---- refused features: what they were, what to use ----
for key in "spooler = /tmp/spool:Celery" "route-if = equal:x y:nginx" "mules = 2:attach-daemon" \
           "cache2 = name=c,items=10:Redis" "plugins = php:Python WSGI apps only"; do
        printf '[uwsgi]\nhttp-socket = 127.0.0.1:1\nwsgi-file = app.py\n%s\n' "${key%:*}" >"$T/refused.ini"
        check "$T/refused.ini"
        expect 78 "${key%%=*}refused"
        assert_contains "$err" "$T/refused.ini:4:" "${key%%=*}: file:line"
        assert_contains "$err" "${key##*:}" "${key%%=*}: names the alternative"
done

# ---- add-header: a CR or LF is a config error, wherever it comes from ----
printf '[uwsgi]\nhttp-socket = 127.0.0.1:1\nwsgi-file = app.py\nadd-header = X-A: b\rX-Evil: 1\n' \
        >"$T/crlf.ini"
check "$T/crlf.ini"
expect 78 "add-header with a CR refused"
assert_contains "$err" "crlf.ini:4: add-header: expected" "add-header CR: file:line"
capture "$VASSAL" --check --http-socket 127.0.0.1:1 --wsgi-file app.py --add-header $'X-A: b\nX-Evil: 1'
expect 78 "add-header with a LF on the command line refused"

# ---- a serving vassal: add-header, lifetime, reload-on-exception, limit-as, pyargv ----
P=$(free_port)
cat >"$T/run.ini" <<INI
[uwsgi]
strict = true
http-socket = 127.0.0.1:$P
wsgi-file = $T/optapp.py
processes = 2
add-header = X-Frame-Options: DENY
add-header = X-Served-By: emperor
max-worker-lifetime = 4
max-worker-lifetime-delta = 2
worker-reload-mercy = 5
reload-on-exception = true
pyargv = one two
die-on-term = true
single-interpreter = true
INI
check "$T/run.ini"
expect 0 "the serving ini passes --check"
start_vassal v "$T/run.ini"
wait_ready v "http://127.0.0.1:$P/"
headers=$(curl -s -D - -o /dev/null "http://127.0.0.1:$P/")
assert_contains "$headers" "X-Frame-Options: DENY" "add-header, first"
assert_contains "$headers" "X-Served-By: emperor" "add-header, second"
assert_contains "$headers" "X-App: yes" "the app's own headers stay"
assert_eq "$(curl -s "http://127.0.0.1:$P/argv")" '["vassal", "one", "two"]' "pyargv is sys.argv[1:]"
# uWSGI's staggering: worker N goes after lifetime + N * delta seconds.
wait_until 20 grep -qE "worker 1 \(pid [0-9]+\) reached max-worker-lifetime \(6 s\)" "$T/v.log" ||
        fail "worker 1 recycled after 4 + 1 * 2 s"
ok "worker 1 recycled after max-worker-lifetime + 1 * delta"
wait_until 20 grep -qE "worker 2 \(pid [0-9]+\) reached max-worker-lifetime \(8 s\)" "$T/v.log" ||
        fail "worker 2 recycled after 4 + 2 * 2 s"
ok "worker 2 recycled after max-worker-lifetime + 2 * delta"
wait_ready v "http://127.0.0.1:$P/"
stop_pid "$v_pid"

# limit-as: a sanitizer's shadow memory needs terabytes of address space, so only without one.
if nm "$VASSAL" 2>/dev/null | grep -q __asan_init; then
        echo "  skip: limit-as under AddressSanitizer"
else
        P=$(free_port)
        start_vassal l --http-socket "127.0.0.1:$P" --wsgi-file "$T/optapp.py" --limit-as 768
        wait_ready l "http://127.0.0.1:$P/"
        assert_eq "$(curl -s "http://127.0.0.1:$P/rlimit")" "$((768 * 1024 * 1024))" \
                "limit-as sets RLIMIT_AS in the worker"
        assert_eq "$(curl -s "http://127.0.0.1:$P/alloc")" "OSError 12" \
                "limit-as: mapping 1 GB past it fails (ENOMEM)"
        stop_pid "$l_pid"
fi

# reload-on-exception: the raising request gets its 500, then its worker is replaced.
P=$(free_port)
start_vassal e --http-socket "127.0.0.1:$P" --wsgi-file "$T/optapp.py" --reload-on-exception
wait_ready e "http://127.0.0.1:$P/"
pid1=$(curl -s "http://127.0.0.1:$P/" | field pid)
assert_eq "$(status_of "http://127.0.0.1:$P/raise")" "500" "the raising request is answered 500"
new_pid() { p=$(curl -s --max-time 2 "http://127.0.0.1:$P/" | field pid) && [ -n "$p" ] && [ "$p" != "$pid1" ]; }
wait_until 15 new_pid || fail "the worker whose app raised was not replaced"
ok "reload-on-exception replaced the worker"
assert_file_contains "$T/e.log" "stopping (reload-on-exception)" "the log says why"
stop_pid "$e_pid"

# ---- need-app ----
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nmodule = no_such_module_here\n' "$(free_port)" >"$T/noapp.ini"
capture "$VASSAL" "$T/noapp.ini"
expect 78 "need-app (default true): an app that does not import exits 78"
P=$(free_port)
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nmodule = no_such_module_here\nneed-app = false\n' "$P" \
        >"$T/noapp.ini"
start_vassal n "$T/noapp.ini"
answers_500() { [ "$(status_of "http://127.0.0.1:$P/")" = 500 ]; }
wait_until 15 answers_500 || fail "need-app = false serves 500s"
ok "need-app = false: the vassal runs without its app and answers 500"
assert_file_contains "$T/n.log" "no app loaded (need-app = false)" "the log says why"
kill -0 "$n_pid" || fail "need-app = false: the vassal stopped"
stop_pid "$n_pid"

# ---- mount + manage-script-name ----
P=$(free_port)
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nmount = /app=%s\nmanage-script-name = true\n' "$P" \
        "$T/optapp.py" >"$T/mount.ini"
start_vassal m "$T/mount.ini"
wait_ready m "http://127.0.0.1:$P/app/"
body=$(curl -s "http://127.0.0.1:$P/app/x/y")
assert_eq "$(field script_name <<<"$body")/$(field path_info <<<"$body")" "/app//x/y" \
        "under the mount point: SCRIPT_NAME /app, PATH_INFO /x/y"
body=$(curl -s "http://127.0.0.1:$P/application")
assert_eq "$(field script_name <<<"$body")|$(field path_info <<<"$body")" "|/application" \
        "outside it (a longer name is not under /app): unchanged"
stop_pid "$m_pid"
printf 'mount = /b=%s\n' "$T/optapp.py" >>"$T/mount.ini"
check "$T/mount.ini"
expect 78 "a second mount point is refused"
assert_contains "$err" "$T/mount.ini:5: mount: a second mount point" "with file:line and why"

# ---- the emperor's check applies strict mode too ----
start_emperor
P=$(free_port)
make_ini typo "$P" "enable-thread = true" "strict = true"
wait_until 15 state_is typo config-error || fail "a strict ini with a typo is not in config-error"
assert_contains "$(vassal_field typo last_error)" "$CONF/typo.ini:7: unknown key 'enable-thread' (strict mode)" \
        "the emperor shows file:line"
make_ini typo "$P" "enable-threads = true" "strict = true"
wait_until 15 state_is typo running || fail "the fixed strict ini does not run"
ok "the fixed ini runs"
P2=$(free_port)
make_ini port "$P2" "http-socket = 127.0.0.1:99999"
wait_until 15 state_is port config-error || fail "a bad port is not a config error in the emperor"
assert_contains "$(vassal_field port last_error)" "$CONF/port.ini:7: http-socket: expected a port" \
        "the emperor shows the bad port with file:line"
