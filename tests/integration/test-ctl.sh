#!/usr/bin/env bash
# emperorctl against a stand-in for the emperor's control socket (fake-emperor.py, canned
# replies): argument checks, socket resolution, the request line, human and --json output,
# and every exit status: 0 ok, 1 failed or malformed reply, 2 usage, 3 no such vassal,
# 4 the emperor is not running.
. "$(dirname "$0")/lib.sh"

CTL="$BUILD/emperorctl"
SOCK="$T/control.sock"
REQUESTS="$T/requests.txt"
[ -x "$CTL" ] || fail "$CTL is not built"

# ctl ARGS...: runs emperorctl (no --run-dir of its own), captured (lib.sh).
ctl() { capture "$CTL" "$@"; }

# A usage error: exit 2, one specific line on stderr, nothing on stdout, no request sent.
expect_usage() {
        local what=$1 before after
        shift
        before=$(wc -l <"$REQUESTS")
        ctl "$@"
        after=$(wc -l <"$REQUESTS")
        expect 2 "$what"
        [ -z "$out" ] || fail "$what: printed on stdout: $out"
        [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$what: not one line: $err"
        assert_contains "$err" "emperorctl: " "$what: says why"
        [ "$before" = "$after" ] || fail "$what: a request was sent"
}

last_request() { tail -n 1 "$REQUESTS"; }

# json_get EXPR: evaluates a Python expression on the JSON document in $out (as `j`).
json_get() {
        python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$out"
}

# --- the emperor is not running: exit 4 -----------------------------------------------
ctl --socket "$T/none.sock" status
expect 4 "no socket at all"
assert_eq "$err" "emperorctl: the emperor is not running (cannot connect to $T/none.sock: No such file or directory)" \
        "no socket: the message names the socket"
[ -z "$out" ] || fail "no socket: printed on stdout"

mkdir "$T/rundir"
ctl --run-dir "$T/rundir" stop x
expect 4 "--run-dir without an emperor"
assert_contains "$err" "cannot connect to $T/rundir/control.sock:" "--run-dir names RUN_DIR/control.sock"

EMPERORCTL_SOCKET="$T/none.sock" ctl status
expect 4 "EMPERORCTL_SOCKET naming no socket"
assert_contains "$err" "$T/none.sock" "EMPERORCTL_SOCKET is used"

# A socket file nobody listens on (an emperor that died): ECONNREFUSED.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale.sock"
ctl --socket "$T/stale.sock" status
expect 4 "a stale socket"
assert_contains "$err" "the emperor is not running (cannot connect to $T/stale.sock: Connection refused)" \
        "stale socket: connection refused"

# --- the fake emperor --------------------------------------------------------------------
: >"$REQUESTS"
python3 "$TOP/tests/integration/fake-emperor.py" "$SOCK" "$REQUESTS" >"$T/fake-emperor.out" 2>&1 &
PIDS+=($!)
wait_until 10 test -S "$SOCK" || fail "the fake emperor did not come up"

# --- status, the table -------------------------------------------------------------------
expected_table='NAME   STATE                      PID  UPTIME  WORKERS  REQUESTS  RESTARTS  LAST ERROR
hello  running                   4242   2h05m      1/2      1234         0  -
api    crash-loop (retry in 4s)     -       -        -         0         7  api.ini:3: the app failed to import: ModuleNotFoundError:...'
ctl --socket "$SOCK" status
expect 0 "status"
assert_eq "$out" "$expected_table" "status prints the table"
assert_eq "$err" "" "status: nothing on stderr"
assert_eq "$(last_request)" '{"v":1,"cmd":"status"}' "status: the request line"

EMPERORCTL_SOCKET="$SOCK" ctl status
expect 0 "EMPERORCTL_SOCKET"
assert_eq "$out" "$expected_table" "EMPERORCTL_SOCKET: the same table"

ctl --run-dir "$T" status
expect 0 "--run-dir"
assert_eq "$out" "$expected_table" "--run-dir: the same table"
ctl --run-dir "$T/" status
expect 0 "--run-dir with a trailing slash"

EMPERORCTL_SOCKET="$T/none.sock" ctl --socket "$SOCK" status
expect 0 "--socket beats EMPERORCTL_SOCKET"
EMPERORCTL_SOCKET="$T/none.sock" ctl --run-dir "$T" status
expect 0 "--run-dir beats EMPERORCTL_SOCKET"

export EMPERORCTL_SOCKET="$SOCK"

ctl --db "$T/stats.db" status
expect 0 "--db is accepted"

# --- status APP, the detail --------------------------------------------------------------
ctl status hello
expect 0 "status hello"
assert_eq "$(last_request)" '{"v":1,"cmd":"status","vassal":"hello"}' "status hello: the request line"
assert_eq "$out" "name:        hello
state:       running
pid:         4242
uptime:      2h05m
workers:     1 busy / 2 total
worker pids: 4243 4244
requests:    1234
restarts:    0
ini:         /etc/apps.d/hello.ini
sockets:     127.0.0.1:8080, unix:/run/emperor/hello.sock
uid:         33
last exit:   -
last error:  -" "status hello prints every field"

ctl status api
expect 0 "status api (a {\"vassal\":...} reply)"
assert_contains "$out" "state:       crash-loop (retry in 4s)" "status api: the backoff"
assert_contains "$out" "last exit:   exited with status 1" "status api: the last exit"
assert_contains "$out" "last error:  api.ini:3: the app failed to import: ModuleNotFoundError: No module named 'flask_sqlalchemy'
             Traceback (most recent call last):
               File \"app.py\", line 1, in <module>" "status api: the whole error, indented"

ctl status odd
expect 0 "status of a vassal with mistyped fields"
assert_contains "$out" "pid:         -" "mistyped fields print '-'"
assert_contains "$out" "color:       blue" "unknown fields are listed"

# --- no such vassal: exit 3 --------------------------------------------------------------
ctl status nope
expect 3 "status nope"
assert_eq "$err" "emperorctl: no vassal named 'nope'" "status nope: the daemon's error"
assert_eq "$out" "" "status nope: nothing on stdout"
ctl restart nope
expect 3 "restart nope"

# --- the other commands ------------------------------------------------------------------
ctl stop x
expect 0 "stop x"
assert_eq "$out" "stop 'x'" "stop x prints the message"
assert_eq "$(last_request)" '{"v":1,"cmd":"stop","vassal":"x"}' "stop x: the request line"
ctl start x
expect 0 "start x"
assert_eq "$out" "start 'x'" "start x prints the message"
ctl restart x
expect 0 "restart x"
assert_eq "$(last_request)" '{"v":1,"cmd":"restart","vassal":"x"}' "restart x: the request line"
ctl reload x
expect 0 "reload x"
assert_eq "$out" "reload 'x'" "reload x prints the message"
ctl reload --all
expect 0 "reload --all"
assert_eq "$out" "reload: 2 vassals" "reload --all prints the message"
assert_eq "$(last_request)" '{"v":1,"cmd":"reload","all":true}' "reload --all: the request line"
ctl stop -- -x
expect 0 "a vassal name starting with '-', after --"
assert_eq "$out" "stop '-x'" "stop -- -x"

# --- --json ------------------------------------------------------------------------------
ctl --json status
expect 0 "--json status"
assert_eq "$(json_get '[v["name"] for v in j["vassals"]]')" "['hello', 'api']" "--json status: the reply"
assert_eq "$(printf '%s\n' "$out" | wc -l)" 1 "--json: one document, as received"
ctl status --json
expect 0 "status --json (the option after the command)"
assert_eq "$(json_get 'j["ok"]')" "True" "status --json: the reply"
ctl --json status nope
expect 3 "--json status nope"
assert_eq "$(json_get 'j["code"]')" "no-such-vassal" "--json status nope: the reply on stdout"
ctl --json stop x
expect 0 "--json stop x"
assert_eq "$(json_get 'j["message"]')" "stop 'x'" "--json stop x: the reply"
ctl --json stop fail
expect 1 "--json of a failed command"
assert_eq "$(json_get 'j["code"]')" "failed" "--json stop fail: the reply"

# --- failures: exit 1 --------------------------------------------------------------------
ctl stop fail
expect 1 "a failed command"
assert_eq "$err" "emperorctl: cannot spawn 'fail': Resource temporarily unavailable" "failed: the daemon's error"
ctl stop denied
expect 1 "permission denied by the daemon"
assert_eq "$err" "emperorctl: uid 1000 may not stop 'denied'" "permission-denied: the daemon's error"
ctl stop nocode
expect 1 "ok:false without code or error"
ctl stop badreq
expect 2 "the daemon's bad-request"

ctl stop garbage
expect 1 "a reply that is not JSON"
assert_eq "$err" "emperorctl: malformed reply from the emperor: not JSON: 'this is not json'" "garbage: says so"
ctl --json stop garbage
expect 1 "--json of a reply that is not JSON"
assert_eq "$out" "" "--json garbage: nothing on stdout"

ctl stop noreply
expect 1 "no reply"
assert_eq "$err" "emperorctl: the emperor closed the connection without a reply" "no reply: says so"

start=$SECONDS
EMPERORCTL_TIMEOUT=0.5 ctl stop hang
expect 1 "no answer"
assert_eq "$err" "emperorctl: the emperor did not answer within 0.5 s" "no answer: says so"
[ $((SECONDS - start)) -le 5 ] || fail "no answer: took $((SECONDS - start)) s"
EMPERORCTL_TIMEOUT=soon ctl status
expect 2 "a bad EMPERORCTL_TIMEOUT"

ctl stop huge
expect 1 "a reply over 16 MiB"
assert_contains "$err" "longer than 16 MiB" "huge: says so"

# Replies written by hand: SOCK.reply is sent as is, whatever the request.
reply() { printf '%s' "$1" >"$SOCK.reply"; }
reply '{"message":"hi"}
'
ctl stop x
expect 1 "a reply without ok"
assert_eq "$err" "emperorctl: malformed reply from the emperor: no boolean \"ok\"" "no ok: says so"
ctl --json stop x
expect 1 "--json of a reply without ok"
assert_eq "$out" "" "--json no ok: nothing on stdout"
reply '{"ok":"yes"}
'
ctl stop x
expect 1 "a reply whose ok is not a boolean"
reply '[1,2]
'
ctl stop x
expect 1 "a reply that is not an object"
reply '{"ok":true} trailing
'
ctl stop x
expect 1 "a reply with text after the object"
reply '{"ok":true}
'
ctl status
expect 1 "a status reply without vassals"
assert_contains "$err" 'no "vassals" list' "no vassals: says so"
reply '{"ok":true,"vassals":[]}
'
ctl status
expect 0 "a fleet of none"
assert_eq "$out" "no vassals" "no vassals: says so"
reply '{"ok":true,"message":"no newline"}'
ctl stop x
expect 0 "a reply ended by EOF instead of a newline"
assert_eq "$out" "no newline" "EOF-ended reply: the message"
reply '{"ok":true,"message":"crlf"}
'
ctl stop x
expect 0 "a reply ended by CRLF"
reply ''
ctl stop x
expect 1 "an empty reply"
rm -f "$SOCK.reply"

# --- usage: exit 2, one line, nothing sent -----------------------------------------------
expect_usage "no command"
expect_usage "an unknown command" frobnicate
assert_eq "$err" "emperorctl: unknown command 'frobnicate' (try 'emperorctl --help')" "unknown command: says so"
expect_usage "stop without APP" stop
assert_eq "$err" "emperorctl: 'stop' needs an APP (usage: emperorctl stop APP)" "stop without APP: says so"
expect_usage "reload without APP or --all" reload
expect_usage "an extra argument" status a b
expect_usage "--all on stop" stop --all
expect_usage "reload APP --all" reload x --all
expect_usage "an invalid vassal name" stop ../x
expect_usage "an unknown option" --frob status
expect_usage "--socket without a value" status --socket
expect_usage "--socket and --run-dir" --socket "$SOCK" --run-dir "$T" status
expect_usage "help of an unknown command" help frobnicate

# --- help and version --------------------------------------------------------------------
for h in help --help -h; do
        ctl $h
        expect 0 "$h"
        for u in "status [APP]" "reload APP|--all" "restart APP" "stop APP" "start APP" \
                 "--socket PATH" "--run-dir DIR" "--db PATH" "--json"; do
                assert_contains "$out" "$u" "$h lists '$u'"
        done
done
ctl help stop
expect 0 "help stop"
assert_contains "$out" "Usage: emperorctl stop APP" "help stop: its usage"
ctl --version
expect 0 "--version"
assert_contains "$out" "emperorctl " "--version: the name and version"

# --- permission denied on the socket: exit 1 ---------------------------------------------
# $T is 0700: a user other than its owner cannot reach the socket in it.
if [ "$(id -u)" = 0 ]; then
        if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true; then
                setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$SOCK" status \
                        >"$T/out" 2>"$T/err"
                rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
                cat "$T/err" >>"$T/ctl-stderr.log"
                expect 1 "a socket we may not use"
                assert_eq "$err" "emperorctl: permission denied on $SOCK (try as root or the emperor's user)" \
                        "permission denied: says what to do"
        else
                echo "  skip: permission denied (no setpriv to drop root)"
        fi
else
        chmod 000 "$SOCK"
        ctl --socket "$SOCK" status
        chmod 755 "$SOCK"
        expect 1 "a socket we may not use"
        assert_eq "$err" "emperorctl: permission denied on $SOCK (try as root or the emperor's user)" \
                "permission denied: says what to do"
fi

echo "test-ctl: all passed"
