#!/usr/bin/env bash
# emperorctl logs against a real emperor: the last N lines of a vassal's logto; -f following
# it through dozens of rotations under load (every line once, none torn, none lost, even when
# one burst rotates many times); a closed pipe and SIGTERM end -f with status 0; a vassal
# without logto (1), an unknown vassal (3), usage errors (2); a logto relative to where the
# vassal was started is read where the vassal says it is (its stats' "log", in status), from
# any directory; with the emperor stopped, the ini is found through the stats store, and
# that relative logto is refused with the reason rather than guessed.
. "$(dirname "$0")/lib.sh"

LOGS="$T/logs"
mkdir -p "$LOGS" "$T/app"
read -r P Q R S < <(free_ports 4 | tr '\n' ' ')

# ini NAME PORT LINE...: $CONF/NAME.ini for the numbered-lines app, written atomically.
ini() {
        local name=$1 port=$2; shift 2
        {
                printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/loglines.py\n' \
                        "$port" "$APPS"
                printf 'processes = 1\nthreads = 4\n'
                for line in "$@"; do printf '%s\n' "$line"; done
        } >"$T/.$name.ini.tmp"
        mv "$T/.$name.ini.tmp" "$CONF/$name.ini"
}

# logs ARGS...: emperorctl logs, captured (lib.sh).
logs() { capture "$CTL" --run-dir "$RUN" logs "$@"; }

mkdir -p "$CONF"
# web: request log on, tiny log-maxsize: thousands of requests rotate it dozens of times.
# %n and %(key) are resolved by lib/ini on both sides.
ini web "$P" "logdir = $LOGS" "logto = %(logdir)/%n.log" "log-maxsize = 16k"
# rel: a relative logto under chdir, as the vassal opens it.
ini rel "$Q" "chdir = $T/app" "logto = rel.log" "disable-logging = true"
# quiet: no logto, so it logs to the emperor's stderr.
ini quiet "$R" "disable-logging = true"
# here: relative logto, no chdir: relative to the emperor's working directory.
ini here "$S" "logto = here.log" "disable-logging = true"
mkdir -p "$T/emperor-cwd"
pushd "$T/emperor-cwd" >/dev/null || fail "cd"
start_emperor
popd >/dev/null || fail "cd"
for v in web rel quiet here; do
        wait_until 20 state_is "$v" running || fail "vassal '$v' is not running"
done
wait_until 10 http_ok "http://127.0.0.1:$P/lines?0,0" || fail "web does not answer"

# --- the last N lines ---------------------------------------------------------------------
curl -sf -o /dev/null -m 5 "http://127.0.0.1:$P/lines?0,20" || fail "request"
wait_until 10 grep -q 'GET /lines?0,20 ' "$LOGS/web.log" || fail "no request line in the log"
logs web -n 5
expect 0 "logs web -n 5"
cmp -s "$T/out" <(tail -n 5 "$LOGS/web.log") || fail "-n 5: not the file's last 5 lines: $(cat "$T/out")"
assert_eq "$(wc -l <"$T/out")" 5 "-n 5 prints exactly 5 lines"
logs web
cmp -s "$T/out" <(tail -n 10 "$LOGS/web.log") || fail "the default is not the last 10 lines"
ok "10 lines by default"
logs web -n 0
expect 0 "-n 0"
[ -s "$T/out" ] && fail "-n 0 printed: $(head -3 "$T/out")"
ok "-n 0 prints nothing"
logs web -n 100000
cmp -s "$T/out" "$LOGS/web.log" || fail "-n past the file's length is not the whole file"
ok "-n past the length prints the whole file"

curl -sf -o /dev/null -m 5 "http://127.0.0.1:$Q/lines?7,1" || fail "request to rel"
wait_until 10 grep -q '^L 000000007 ' "$T/app/rel.log" || fail "rel did not log under chdir"
logs rel -n 1
expect 0 "a relative logto under chdir"
assert_contains "$(cat "$T/out")" "L 000000007 " "the file under chdir is read"

# The vassal says where it logs; emperorctl reads that from anywhere, guessing nothing.
has_log() { [ -n "$(vassal_field "$1" log)" ]; }
wait_until 10 has_log here || fail "status has no log for 'here'"
assert_eq "$(vassal_field here log)" "$T/emperor-cwd/here.log" "status: the log, absolute"
assert_eq "$(vassal_field quiet log)" "" "status: no log file for a vassal on stderr"
curl -sf -o /dev/null -m 5 "http://127.0.0.1:$S/lines?9,1" || fail "request to here"
wait_until 10 grep -q '^L 000000009 ' "$T/emperor-cwd/here.log" || fail "here did not log"
logs here -n 1
expect 0 "a logto relative to where the vassal was started"
assert_contains "$(cat "$T/out")" "L 000000009 " "the file the vassal named is read"

# --- errors -------------------------------------------------------------------------------
logs quiet
expect 1 "a vassal without logto"
assert_eq "$err" "emperorctl: vassal 'quiet' has no logto: it logs to the emperor's stderr (journalctl -u emperor)" \
        "no logto: says where the log is"
logs nosuch
expect 3 "an unknown vassal"
assert_contains "$err" "nosuch" "unknown vassal: names it"
for bad in -1 x 1.5 ""; do
        logs web -n "$bad"
        expect 2 "-n '$bad'"
done
logs web --json
expect 2 "--json"
chmod 000 "$T/app/rel.log"
if [ "$(id -u)" != 0 ]; then
        logs rel
        expect 1 "an unreadable log"
        assert_contains "$err" "cannot read '$T/app/rel.log'" "unreadable: names the file"
fi
chmod 644 "$T/app/rel.log"

# --- -f through rotations under load ------------------------------------------------------
# -n past the file's length: the follower prints the whole current file, then follows, so
# its output must be every line of every file from here on, each once.
FOLLOW="$T/follow.out"
setsid "$CTL" --run-dir "$RUN" logs web -f -n 100000 >"$FOLLOW" 2>"$T/follow.log" </dev/null &
fpid=$!
PIDS+=("$fpid")
wait_until 10 grep -q '^L 000000019 ' "$FOLLOW" || fail "the follower printed nothing"
ok "the follower holds the log"
backups_before=$(ls "$LOGS" | grep -c '^web\.log\.')
assert_eq "$backups_before" 0 "no rotation before the load"

# 3000 requests, each with its own numbered line and request line (three keep-alive curls of
# 1000), and alongside two bursts of 5000 lines each (~240 KB: ~15 rotations in one go).
for c in 0 1 2; do
        for ((i = 1000 + c * 1000; i < 2000 + c * 1000; i++)); do
                printf 'url = "http://127.0.0.1:%s/lines?%d,1"\noutput = /dev/null\n' "$P" "$i"
        done >"$T/curl-$c.conf"
done
start=$SECONDS
pids=()
for c in 0 1 2; do
        curl -sf -m 120 -K "$T/curl-$c.conf" &
        pids+=($!)
done
curl -sf -o /dev/null -m 60 "http://127.0.0.1:$P/lines?100000,5000" & pids+=($!)
curl -sf -o /dev/null -m 60 "http://127.0.0.1:$P/lines?200000,5000" & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || fail "a request failed"; done
echo "  3002 requests in $((SECONDS - start)) s"
rotations=$(ls "$LOGS" | grep -c '^web\.log\.')
[ "$rotations" -ge 20 ] || fail "only $rotations rotations"
ok "the log rotated $rotations times"

# Every line of the log and its backups, as the follower should have printed them.
all_lines() { cat "$LOGS"/web.log.* "$LOGS/web.log"; }
complete() { [ "$(wc -l <"$FOLLOW")" -ge "$(all_lines | wc -l)" ]; }
wait_until 30 complete || fail "the follower is behind: $(wc -l <"$FOLLOW") of $(all_lines | wc -l) lines"
kill -0 "$fpid" 2>/dev/null || fail "the follower died: $(cat "$T/follow.log")"

python3 - "$FOLLOW" "$LOGS" <<'EOF' || fail "the follower's output is not every line once"
import collections, os, re, sys
out = open(sys.argv[1], "rb").read()
files = [os.path.join(sys.argv[2], n) for n in os.listdir(sys.argv[2])]
logged = b"".join(open(f, "rb").read() for f in files)
if not out.endswith(b"\n"):
    sys.exit("the output ends in a torn line")
got, want = collections.Counter(out.splitlines()), collections.Counter(logged.splitlines())
if got != want:
    print("missing:", list((want - got).items())[:5], file=sys.stderr)
    print("extra:", list((got - want).items())[:5], file=sys.stderr)
    sys.exit(1)
numbers = collections.Counter(int(m) for m in re.findall(rb"^L (\d{9}) ", out, re.M))
expected = set(range(0, 20)) | set(range(1000, 4000)) | set(range(100000, 105000)) \
    | set(range(200000, 205000))
if set(numbers) != expected or any(c != 1 for c in numbers.values()):
    sys.exit("numbered lines: %d distinct, %d expected, %d twice" % (
        len(numbers), len(expected), sum(c > 1 for c in numbers.values())))
requests = collections.Counter(re.findall(rb"GET /lines\?(\d+),1 ", out))
if len(requests) != 3000 or any(c != 1 for c in requests.values()):
    sys.exit("request lines: %d distinct of 3000" % len(requests))
print("  %d lines: each numbered line once, each of the 3000 request lines once" %
      len(out.splitlines()))
EOF
ok "every line once, across $rotations rotations"

kill -TERM "$fpid"
wait "$fpid"
assert_eq "$?" 0 "SIGTERM ends the follower with status 0"
[ -s "$T/follow.log" ] && fail "the follower complained: $(cat "$T/follow.log")"
ok "the follower said nothing on stderr"

# A closed pipe: `| head` ends the follower even with nothing more to print.
timeout 10 "$CTL" --run-dir "$RUN" logs web -f -n 3 2>>"$T/ctl-stderr.log" </dev/null | head -n 1 >"$T/head.out"
assert_eq "${PIPESTATUS[0]}" 0 "-f | head -n 1: the follower ends with status 0"
assert_eq "$(wc -l <"$T/head.out")" 1 "head got its line"

# SIGINT too (the follower in the background of a non-interactive shell would ignore it).
setsid "$CTL" --run-dir "$RUN" logs web -f >"$T/int.out" 2>>"$T/ctl-stderr.log" </dev/null &
ipid=$!
PIDS+=("$ipid")
wait_until 10 test -s "$T/int.out" || fail "the second follower printed nothing"
kill -INT "$ipid"
wait "$ipid"
assert_eq "$?" 0 "SIGINT ends the follower with status 0"

# -f on a log that does not exist yet waits for it.
rm -f "$T/app/rel.log"
setsid "$CTL" --run-dir "$RUN" logs rel -f >"$T/wait.out" 2>"$T/wait.log" </dev/null &
wpid=$!
PIDS+=("$wpid")
wait_until 10 grep -q 'waiting' "$T/wait.log" || fail "the follower does not say it waits"
kill -USR1 "$(vassal_field rel pid)" # the vassal reopens: a new rel.log
curl -sf -o /dev/null -m 5 "http://127.0.0.1:$Q/lines?8,1" || fail "request to rel"
wait_until 10 grep -q '^L 000000008 ' "$T/wait.out" || fail "the late file was not followed"
ok "-f waits for a log that is not there yet"
kill -TERM "$wpid"
wait "$wpid"

# --- the emperor stopped: the store knows the ini ----------------------------------------
stop_pid "$emperor_pid"
ctl_store() {
        "$CTL" --run-dir "$RUN" --state-dir "$T/state" logs "$@" >"$T/out" 2>"$T/err"
        rc=$?
        err=$(cat "$T/err")
        cat "$T/err" >>"$T/ctl-stderr.log"
}
ctl_store web -n 3
expect 0 "logs with the emperor stopped"
cmp -s "$T/out" <(tail -n 3 "$LOGS/web.log") || fail "stopped: not the last 3 lines: $(cat "$T/out")"
ok "the last 3 lines, from the ini the store names"
[ -z "$err" ] || fail "stopped: printed on stderr: $err"
ok "no 'not running' error on the way"
ctl_store rel -n 20
expect 0 "a relative logto with the emperor stopped (chdir is absolute)"
assert_contains "$(cat "$T/out")" "L 000000008 " "the file under chdir, from the ini alone"
ctl_store here -n 1
expect 1 "a logto relative to where the vassal was started, with the emperor stopped"
assert_contains "$err" "vassal 'here' is not running, and its log 'here.log' is relative to the directory it was started in" \
        "stopped: says why the log cannot be found"
ctl_store nosuch
expect 3 "an unknown vassal with the emperor stopped"
"$CTL" --run-dir "$RUN" --db "$T/no-such.db" logs web >"$T/out" 2>"$T/err"
rc=$? err=$(cat "$T/err")
expect 4 "the emperor stopped and no store"
assert_contains "$err" "not running" "no store: says the emperor is not running"
