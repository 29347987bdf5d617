# Shared helpers for the integration scenarios: start real processes on 127.0.0.1, poll with a
# deadline (never a bare sleep), assert, and clean up only what we started, by pid.
# Each scenario sources this file, then calls its own steps; the first failed check exits 1.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
VASSAL="$BUILD/vassal"
APPS="$TOP/tests/integration/apps"
T=$(mktemp -d /tmp/emperor-test.XXXXXX)
export TESTAPP_MARKERS="$T"
PIDS=()
# Sanitizer builds: leaks are checked when the master exits; embedded CPython's own
# allocations are not ours to report (tests/lsan.supp, PLATFORM.md).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

cleanup() {
        local p rc=$?
        for p in "${PIDS[@]}"; do
                kill -TERM "$p" 2>/dev/null
        done
        for p in "${PIDS[@]}"; do
                for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        # A sanitizer report anywhere fails the scenario, even when every check passed.
        if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log >/dev/null 2>&1; then
                echo "FAIL: sanitizer report:" >&2
                grep -hE -A12 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log | head -40 >&2
                rc=1
        fi
        if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
        exit $rc
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        for f in "$T"/*.log; do
                [ -f "$f" ] || continue
                echo "---- $f (last 30 lines)" >&2
                tail -n 30 "$f" >&2
        done
        exit 1
}
ok() { echo "  ok: $*"; }

# capture CMD...: runs CMD; its stdout in $out (and $T/out), stderr in $err, exit status in
# $rc. stderr also goes to a .log, where cleanup looks for sanitizer reports.
capture() {
        "$@" >"$T/out" 2>"$T/err"
        rc=$?
        out=$(cat "$T/out")
        err=$(cat "$T/err")
        cat "$T/err" >>"$T/ctl-stderr.log"
}

# expect RC WHAT: checks the exit status of the last capture.
expect() {
        [ "$rc" = "$1" ] || fail "$2: exit status $rc, expected $1 (stdout: '$out', stderr: '$err')"
        ok "$2 (exit $1)"
}

# gone PID: the process has ended.
gone() { ! kill -0 "$1" 2>/dev/null; }

# A TCP port nobody listens on now.
free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# free_ports N: N distinct free TCP ports, one per line (all held open while choosing, so no
# port comes twice).
free_ports() {
        python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds, or fails the test.
wait_until() {
        local secs=$1; shift
        local end=$((SECONDS + secs))
        until "$@" >/dev/null 2>&1; do
                [ $SECONDS -ge "$end" ] && return 1
                sleep 0.05
        done
}

http_ok() { curl -sf -o /dev/null --max-time 2 "$1"; }

# start_vassal NAME ARGS...: runs the vassal in the background, log in $T/NAME.log, pid in
# the variable NAME_pid (and in PIDS for cleanup).
start_vassal() {
        local name=$1; shift
        "$VASSAL" "$@" >"$T/$name.log" 2>&1 &
        local pid=$!
        PIDS+=("$pid")
        printf -v "${name}_pid" '%s' "$pid"
}

# wait_ready NAME URL: waits for the URL to answer, or fails with the log.
wait_ready() {
        wait_until 15 http_ok "$2" || fail "$1 did not come up at $2"
}

# stop_pid PID [SIGNAL]: sends SIGNAL (TERM) and waits up to 15 s for the process to end.
stop_pid() {
        kill -"${2:-TERM}" "$1" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$1" 2>/dev/null && fail "pid $1 did not stop"
        wait "$1" 2>/dev/null
        return 0
}

assert_eq() {
        [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
        ok "$3"
}
assert_contains() {
        case "$1" in *"$2"*) ok "$3" ;; *) fail "$3: '$2' not in: $(printf '%s' "$1" | head -c 600)" ;; esac
}
assert_file_contains() {
        grep -qF -- "$2" "$1" || fail "$3: '$2' not in $1"
        ok "$3"
}

# raw PORT [TIMEOUT]: sends stdin as-is to 127.0.0.1:PORT and prints all it receives until the
# server closes or TIMEOUT (default 5) seconds pass.
raw() {
        python3 "$TOP/tests/integration/rawclient.py" "$1" "${2:-5}"
}

status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

# ---- the emperor ----
EMPEROR="$BUILD/emperor"
CTL="$BUILD/emperorctl"
CONF="$T/conf"
RUN="$T/run"

# start_emperor [ARGS...]: runs the emperor on $CONF with its run dir in $RUN; waits for its
# control socket.
start_emperor() {
        mkdir -p "$CONF" "$RUN"
        "$EMPEROR" --run-dir "$RUN" --state-dir "$T/state" --http none "$@" "$CONF" >"$T/emperor.log" 2>&1 </dev/null &
        emperor_pid=$!
        PIDS+=("$emperor_pid")
        wait_until 10 test -S "$RUN/control.sock" || fail "the emperor did not start"
}

ctl() { "$CTL" --run-dir "$RUN" "$@"; }

# make_ini NAME PORT [LINE...]: writes $CONF/NAME.ini atomically (write, then rename in) for the
# test app on an http-socket at PORT, with any extra ini lines.
make_ini() {
        local name=$1 port=$2; shift 2
        {
                printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\n' "$port" "$APPS"
                printf 'processes = 1\nthreads = 2\ndisable-logging = true\n'
                for line in "$@"; do printf '%s\n' "$line"; done
        } >"$T/.$name.ini.tmp"
        mv "$T/.$name.ini.tmp" "$CONF/$name.ini"
}

# vassal_field NAME FIELD: one field of `emperorctl status NAME --json`.
vassal_field() {
        ctl --json status "$1" 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)["vassals"][0].get(sys.argv[1])
print("" if v is None else (json.dumps(v) if isinstance(v, (list, dict)) else v))' "$2"
}

state_is() { [ "$(vassal_field "$1" state)" = "$2" ]; }

# vassal_pids: this test's vassal processes (masters and workers), by the notify socket of
# its emperor in their environment: under the emperor their titles name the app, not the
# ini ("vassal app master", lib/procname.h), and other tests run vassals named app too.
vassal_pids() {
        local p
        for p in $(pgrep -f '^vassal '); do
                tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
                        grep -qxF "NOTIFY_SOCKET=$RUN/notify.sock" && echo "$p"
        done
}
no_vassals() { [ -z "$(vassal_pids)" ]; }

# hostile_setup: for a scenario whose hostile side runs as nobody (as_nobody CMD...): skips
# it when not root, fails without setpriv, and lets nobody into $T.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
hostile_setup() {
        if [ "$(id -u)" != 0 ]; then
                echo "  skip: not root"
                exit 0
        fi
        command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
        chmod 755 "$T"
}
