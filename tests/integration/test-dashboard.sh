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
wait_until 20 bash -c "'$CTL' --run-dir '$RUN' status | grep -c running | grep -qx 4" ||
        fail "vassals not running: $(ctl status)"
# A little load on alpha for the whole test.
( while :; do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$P1/"; sleep 0.02; done ) &
PIDS+=($!)
wait_until 10 bash -c "curl -s http://127.0.0.1:$HP/api/vassals/alpha | grep -q '\"workers\"'" ||
        fail "no stats for alpha"

SHOTS="$BUILD/browser"
( cd "$TOP" && node tests/browser/dashboard.mjs "http://127.0.0.1:$HP" "$SHOTS" ) 2>&1 |
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
[ "$ms" -lt 1000 ] || fail "emperor-web answered again only after $ms ms"
ok "a new emperor-web answers $ms ms after the kill"
assert_eq "$(curl -s "http://127.0.0.1:$P1/")" "Hello World" "alpha kept serving"
assert_eq "$(vassal_field alpha state)" "running" "alpha still running"
