# The dashboard in a real browser (tests/browser/dashboard.mjs: headless Chromium driven by
# playwright-core) against this emperor and its vassals under a little load; screenshots in
# $BUILD/browser/. Then emperor-web killed with SIGKILL: the vassals keep serving and the
# emperor starts a new one within a second.
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "no $CHROMIUM (make deps)"
[ -d "$TOP/node_modules/playwright-core" ] || fail "no node_modules/playwright-core (make deps: npm ci)"
HP=$(free_port)
start_emperor --http 127.0.0.1:$HP --stats-interval 1
# emperor-web runs as nobody and shows an ini it may read: as in /etc/apps.d, not in mktemp's 0700.
chmod 0755 "$T" "$CONF"
read -r P1 P2 P3 P4 < <(free_ports 4 | tr '\n' ' ')
make_ini alpha $P1 'processes = 2'
make_ini beta $P2
make_ini gamma $P3 '# <img src=x onerror=alert(1)> in a comment'
cp "$CONF/gamma.ini" "$CONF/.evil.tmp" && mv "$CONF/.evil.tmp" "$CONF/evil.ini"
sed -i "s/:$P3/:$P4/" "$CONF/evil.ini"
make_ini bad $(free_port) 'uid = <img src=x onerror=alert(1)>'
# A vassal logging its requests to a file only root may read (emperor-web, as nobody, may not:
# the emperor follows it), rotating at 4 KiB.
mkdir -m 0700 "$T/logs"
PL=$(free_port)
make_ini applog $PL "logto = $T/logs/logger.log" 'log-maxsize = 4096' 'disable-logging = false'
wait_until 20 bash -c "'$CTL' --run-dir '$RUN' status | grep -c running | grep -qx 5" ||
        fail "vassals not running: $(ctl status)"
# A little load on alpha for the whole test.
( while :; do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$P1/"; sleep 0.02; done ) &
PIDS+=($!)
wait_until 10 bash -c "curl -s http://127.0.0.1:$HP/api/vassals/alpha | grep -q '\"workers\"'" ||
        fail "no stats for alpha"

# stats.db records request lines: not for others to read, nor its -wal and -shm (SQLite gives
# them the database's mode); emperor-web (nobody) still reads it (the charts, below).
for f in stats.db stats.db-wal stats.db-shm; do
        [ -e "$T/state/$f" ] || fail "no $f"
        mode=$(stat -c %a "$T/state/$f")
        [ $((8#$mode & 8#007)) = 0 ] || fail "$f is mode $mode: others may read it"
done
ok "stats.db and its -wal and -shm are not world-readable ($(stat -c '%a %U:%G' "$T/state/stats.db"))"

# The log tail's stream: a closed connection ends the emperor's follower (its inotify
# descriptor closes); at most 8 at once.
inotify_fds() { find /proc/$emperor_pid/fd -lname 'anon_inode:inotify' 2>/dev/null | wc -l; }
wait_until 10 bash -c "curl -s http://127.0.0.1:$HP/api/vassals/applog | grep -q '\"log\"'" ||
        fail "applog did not report its log"
n0=$(inotify_fds)
curl -sN --max-time 20 "http://127.0.0.1:$HP/api/vassals/applog/log?lines=3" >"$T/tail.out" &
tail_pid=$!
wait_until 10 grep -q '^event: log$' "$T/tail.out" || fail "no log event: $(cat "$T/tail.out")"
grep -q '"path":"[^"]*/logs/logger.log"' "$T/tail.out" || fail "no log-open event: $(head -3 "$T/tail.out")"
assert_eq "$(inotify_fds)" "$((n0 + 1))" "the emperor follows the log for the stream"
kill "$tail_pid"; wait "$tail_pid" 2>/dev/null
wait_until 5 bash -c "[ \$(find /proc/$emperor_pid/fd -lname 'anon_inode:inotify' | wc -l) = $n0 ]" ||
        fail "the follower outlived its stream: $(inotify_fds) inotify descriptors, $n0 before"
ok "a closed stream ends the emperor's follower"
tails=()
for i in 1 2 3 4 5 6 7 8; do
        curl -sN --max-time 20 -o /dev/null "http://127.0.0.1:$HP/api/vassals/applog/log" &
        tails+=($!)
done
wait_until 10 bash -c "[ \$(find /proc/$emperor_pid/fd -lname 'anon_inode:inotify' | wc -l) = $((n0 + 8)) ]" ||
        fail "8 tails: $(inotify_fds) inotify descriptors, $n0 before"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$HP/api/vassals/applog/log")" \
        503 "a 9th log tail is refused"
kill "${tails[@]}"; wait "${tails[@]}" 2>/dev/null
wait_until 5 bash -c "[ \$(find /proc/$emperor_pid/fd -lname 'anon_inode:inotify' | wc -l) = $n0 ]" ||
        fail "the 8 followers outlived their streams"
ok "log tails are bounded (8), and freed with their streams"

SHOTS="$BUILD/browser"
( cd "$TOP" && node tests/browser/dashboard.mjs "http://127.0.0.1:$HP" "$SHOTS" "$PL" "$T/logs" ) 2>&1 |
        tee "$T/browser.out"
[ "${PIPESTATUS[0]}" = 0 ] || fail "the browser test failed"
for s in fleet-light fleet-dark vassal phone; do
        [ -s "$SHOTS/$s.png" ] || fail "no screenshot $s.png"
done
ok "screenshots in $SHOTS"

# kill -9 of emperor-web: the vassals keep serving; a new one answers within a second.
web=$(pgrep -P "$emperor_pid" -x emperor-web) || fail "no emperor-web under the emperor"
[ "$(ps -o user= -p "$web" | tr -d ' ')" != root ] || fail "emperor-web runs as root"
ok "emperor-web (pid $web) runs as $(ps -o user= -p "$web" | tr -d ' ')"
kill -KILL "$web"
start=$(date +%s%N)
wait_until 5 bash -c "p=\$(pgrep -P $emperor_pid -x emperor-web) && [ \"\$p\" != $web ]" ||
        fail "emperor-web was not restarted"
wait_until 5 http_ok "http://127.0.0.1:$HP/api/vassals" || fail "the new emperor-web does not answer"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
# Within a second is the emperor's promise (its restart delay, logged, is what it controls);
# the time to the answer is reported, not asserted: a loaded machine stretches it.
grep -q "restarting emperor-web in 0.1 s" "$T/emperor.log" ||
        fail "the restart was not scheduled at once: $(grep 'restarting emperor-web' "$T/emperor.log")"
ok "a new emperor-web answers $ms ms after the kill"
assert_eq "$(curl -s "http://127.0.0.1:$P1/")" "Hello World" "alpha kept serving"
assert_eq "$(vassal_field alpha state)" "running" "alpha still running"
