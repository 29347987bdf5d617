# Log rotation and process hygiene: a million numbered lines through log-maxsize = 1M, none
# lost or torn, every backup kept under its own name; log-maxbackups; log-compress (gzip in the
# background); touch-logreopen, SIGUSR1 and log-reopen reopen a renamed log; pidfile with and
# without vacuum; daemonize returns once the daemon serves.
. "$(dirname "$0")/lib.sh"

# counts FILE: "lines=N unique=N ... rotated=N" over FILE and its backups (logcount.py).
counts() { python3 "$TOP/tests/integration/logcount.py" "$1"; }
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# lines PORT TOTAL PARALLEL: asks the app for lines 0..TOTAL-1, in PARALLEL requests at once.
lines() {
        local port=$1 total=$2 par=$3 each pids=() i
        each=$((total / par))
        for ((i = 0; i < par; i++)); do
                curl -sf -o /dev/null --max-time 60 "http://127.0.0.1:$port/lines?$((i * each)),$each" &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || fail "a /lines request failed"; done
}

# (1) A million lines, 1 MiB files: every line once, whole; each rotation its own backup.
D="$T/rot"
mkdir -p "$D"
P=$(free_port)
start_vassal rot --http-socket 127.0.0.1:$P --wsgi-file "$APPS/loglines.py" --processes 2 \
        --threads 2 --disable-logging --logto "$D/app.log" --log-maxsize 1M --pidfile "$D/v.pid"
wait_ready rot "http://127.0.0.1:$P/lines?0,0"
assert_eq "$(cat "$D/v.pid")" "$rot_pid" "pidfile holds the master's pid"
start=$SECONDS
lines $P 1000000 4
stop_pid "$rot_pid"
c=$(counts "$D/app.log")
echo "  $c ($((SECONDS - start)) s)"
assert_eq "$(field "$c" lines)" 1000000 "a million lines across the log and its backups"
assert_eq "$(field "$c" unique)" 1000000 "each of them once"
assert_eq "$(field "$c" torn)" 0 "no line torn"
[ "$(field "$c" backups)" -ge 40 ] || fail "only $(field "$c" backups) backups of 49 MB in 1 MiB files"
assert_eq "$(field "$c" rotated)" "$(field "$c" backups)" "one backup per rotation, none overwritten"
[ "$(field "$c" biggest)" -le $((1048576 + 4096)) ] || fail "a file of $(field "$c" biggest) bytes"
ok "no file past log-maxsize"
ls "$D" | grep -qE '^app\.log\.[0-9]{8}-[0-9]{6}-[0-9]+$' || fail "no NAME.STAMP-N backup"
ok "backups within one second are numbered"
test -f "$D/v.pid" || fail "pidfile removed without vacuum"
ok "pidfile stays without vacuum"

# (2) log-maxbackups keeps the newest N.
D="$T/keep"
mkdir -p "$D"
P=$(free_port)
start_vassal keep --http-socket 127.0.0.1:$P --wsgi-file "$APPS/loglines.py" --processes 2 \
        --disable-logging --logto "$D/app.log" --log-maxsize 256k --log-maxbackups 3
wait_ready keep "http://127.0.0.1:$P/lines?0,0"
lines $P 200000 2
stop_pid "$keep_pid"
c=$(counts "$D/app.log")
assert_eq "$(field "$c" backups)" 3 "log-maxbackups = 3 keeps 3 backups"
assert_eq "$(field "$c" torn)" 0 "no line torn"
[ "$(field "$c" lines)" -gt 15000 ] || fail "too few lines left: $c"
ok "the newest lines are kept"

# (3) log-compress: gzip in the background; the .gz files test good and count right.
D="$T/gz"
mkdir -p "$D"
P=$(free_port)
start_vassal gz --http-socket 127.0.0.1:$P --wsgi-file "$APPS/loglines.py" --processes 2 \
        --disable-logging --logto "$D/app.log" --log-maxsize 512k --log-compress
wait_ready gz "http://127.0.0.1:$P/lines?0,0"
lines $P 100000 2
wait_until 20 bash -c "[ \$(ls '$D' | grep -cE '\.gz\$') -ge 8 ] && \
        ! ls '$D' | grep -qE '^app\.log\.[0-9]{8}-[0-9]{6}(-[0-9]+)?\$'" ||
        fail "backups not compressed: $(ls "$D")"
stop_pid "$gz_pid"
for f in "$D"/*.gz; do gzip -t "$f" || fail "gzip -t $f"; done
ok "gzip -t accepts every backup"
c=$(counts "$D/app.log")
assert_eq "$(field "$c" unique)" 100000 "every line once across .gz backups and the log"
assert_eq "$(field "$c" lines)" 100000 "no line twice"
assert_eq "$(field "$c" torn)" 0 "no line torn"
assert_eq "$(field "$c" gz)" "$(field "$c" backups)" "every backup compressed"

# (4) touch-logreopen, SIGUSR1 and log-reopen (on SIGHUP) reopen a renamed log; the pidfile
# goes with vacuum.
D="$T/reopen"
mkdir -p "$D"
P=$(free_port)
start_vassal reo --http-socket 127.0.0.1:$P --wsgi-file "$APPS/loglines.py" --disable-logging \
        --logto "$D/app.log" --touch-logreopen "$D/reopen.trigger" --log-reopen \
        --pidfile "$D/v.pid" --vacuum
wait_ready reo "http://127.0.0.1:$P/lines?0,0"
has_line() { grep -q "^L 00000000$2 " "$1"; }
reopened_by() {
        local n=$1 what=$2; shift 2
        mv "$D/app.log" "$D/app.log.moved$n"
        "$@"
        wait_until 15 test -f "$D/app.log" || fail "$what: the log was not reopened"
        curl -sf -m 10 -o /dev/null "http://127.0.0.1:$P/lines?$n,1" || fail "$what: no answer within 10 s"
        wait_until 5 has_line "$D/app.log" "$n" || fail "$what: no line in the reopened log"
        has_line "$D/app.log.moved$n" "$n" && fail "$what: the line went to the renamed file"
        ok "$what reopens the log after a rename"
}
reopened_by 1 "touch-logreopen" touch "$D/reopen.trigger"
reopened_by 2 "SIGUSR1" kill -USR1 "$reo_pid"
reopened_by 3 "log-reopen (SIGHUP)" kill -HUP "$reo_pid"
assert_eq "$(cat "$D/v.pid")" "$reo_pid" "pidfile holds the master's pid after a reload"
stop_pid "$reo_pid"
test -e "$D/v.pid" && fail "pidfile left behind with vacuum"
ok "vacuum removes the pidfile"

# (5) daemonize: returns 0 once the daemon serves; it runs in a session of its own, logs to
# the file, and removes its pidfile (vacuum) when stopped.
P=$(free_port)
"$VASSAL" --http-socket 127.0.0.1:$P --wsgi-file "$APPS/loglines.py" \
        --daemonize "$T/daemon.log" --pidfile "$T/daemon.pid" --vacuum \
        >"$T/daemon-parent.log" 2>&1 </dev/null
assert_eq "$?" 0 "daemonize returns 0"
dpid=$(cat "$T/daemon.pid")
PIDS+=("$dpid")
http_ok "http://127.0.0.1:$P/lines?0,0" || fail "the daemon does not serve right after"
ok "the daemon serves once the command returned"
assert_eq "$(ps -o sid= -p "$dpid" | tr -d ' ')" "$dpid" "the daemon leads its own session"
assert_file_contains "$T/daemon.log" "ready:" "the daemon logs to the daemonize file"
[ -s "$T/daemon-parent.log" ] && fail "the parent printed: $(head -3 "$T/daemon-parent.log")"
kill -TERM "$dpid"
wait_until 15 gone "$dpid" || fail "the daemon did not stop"
test -e "$T/daemon.pid" && fail "the daemon left its pidfile"
ok "the daemon stops and removes its pidfile"

# Under a supervisor (NOTIFY_SOCKET) daemonize only names the log: the vassal stays its child.
P=$(free_port)
NOTIFY_SOCKET="$T/nobody-listens.sock" start_vassal sup --http-socket 127.0.0.1:$P \
        --wsgi-file "$APPS/loglines.py" --daemonize "$T/sup-daemon.log"
wait_ready sup "http://127.0.0.1:$P/lines?0,0"
kill -0 "$sup_pid" 2>/dev/null || fail "the supervised vassal went to the background"
assert_file_contains "$T/sup.log" "daemonize: ignored under a supervisor" "daemonize ignored, said why"
assert_file_contains "$T/sup-daemon.log" "ready:" "the daemonize file is the log all the same"
stop_pid "$sup_pid"

# The logs above live in subdirectories, out of lib.sh's sanitizer check: look at them here.
if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*/app.log* 2>/dev/null; then
        fail "sanitizer report in a log"
fi
