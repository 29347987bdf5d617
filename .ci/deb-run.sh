#!/usr/bin/env bash
# Inside a pristine root with only the .deb installed (apt pulled its Depends): the packaged
# emperor, started by hand (no systemd here), serves a vassal dropped into /etc/apps.d.
set -euo pipefail
# python3 is one of the package's Depends; curl is not, and nothing else is installed here.
get() {
        python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(), end="")' "$1" 2>/dev/null
}
fail() { echo "deb-run: $*" >&2; [ -z "${emperor:-}" ] || kill -TERM "$emperor" 2>/dev/null || true; exit 1; }

emperor --version | grep -q '^emperor [0-9]' || fail "emperor --version: $(emperor --version 2>&1)"
vassal --version >/dev/null || fail "vassal --version failed"
emperorctl --version >/dev/null || fail "emperorctl --version failed"
[ -d /etc/apps.d ] || fail "/etc/apps.d was not created"
[ -f /lib/systemd/system/emperor.service ] || fail "no emperor.service in /lib/systemd/system"
grep -q '^ExecStart=/usr/sbin/emperor ' /lib/systemd/system/emperor.service ||
        fail "the unit does not run /usr/sbin/emperor"
id emperor >/dev/null || fail "no emperor system user"
# The unit as shipped: its programs exist here (systemd came as the sysusers dependency; the
# man pages were checked above, man-db is not in a minimal root).
systemd-analyze verify --man=no /lib/systemd/system/emperor.service || fail "systemd-analyze verify"
man -w emperor >/dev/null 2>&1 || [ -f /usr/share/man/man8/emperor.8.gz ] || fail "no emperor(8)"

mkdir -p /srv/hello
cat >/srv/hello/app.py <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from the package\n"]
PY
cat >/etc/apps.d/hello.ini <<'INI'
[uwsgi]
chdir = /srv/hello
wsgi-file = app.py
http-socket = 127.0.0.1:8090
processes = 1
threads = 2
INI

/usr/sbin/emperor --run-dir /run/emperor --state-dir /var/lib/emperor /etc/apps.d \
        >/tmp/emperor.log 2>&1 &
emperor=$!
t0=$SECONDS
until body=$(get http://127.0.0.1:8090/); do
        kill -0 "$emperor" 2>/dev/null || { cat /tmp/emperor.log >&2; fail "the emperor exited"; }
        [ $((SECONDS - t0)) -lt 30 ] || { cat /tmp/emperor.log >&2; fail "no 200 within 30 s"; }
        sleep 0.1
done
[ "$body" = "hello from the package" ] || fail "unexpected body: $body"
emperorctl --run-dir /run/emperor status hello | grep -q running || fail "emperorctl status hello"
kill -TERM "$emperor"
wait "$emperor" || fail "the emperor exited with status $? on SIGTERM"
echo "deb-run: the packaged emperor served hello from /etc/apps.d and stopped cleanly"
