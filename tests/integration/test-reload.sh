# Reloads in place while wrk runs: 20 graceful reloads (SIGHUP and touch-reload) and 20 chain
# reloads (SIGUSR2 and touch-chain-reload), each answered by the new code, with no failed,
# reset or non-2xx request; lazy-apps reloads too; a reload with broken code keeps the old
# workers serving; a reload with a broken ini is refused.
. "$(dirname "$0")/lib.sh"

command -v wrk >/dev/null || fail "wrk is not installed (make deps)"
N=${RELOADS:-20}
export VERSION_FILE="$T/version"
echo 0 >"$VERSION_FILE"
P=$(free_port)
cat >"$T/app.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P
wsgi-file = $APPS/versionapp.py
processes = 2
threads = 2
disable-logging = true
touch-reload = $T/reload.trigger
touch-chain-reload = $T/chain.trigger
INI
start_vassal v "$T/app.ini"
wait_ready v http://127.0.0.1:$P/
version_is() { curl -s -m 2 http://127.0.0.1:$P/ | grep -q "^version $1 "; }

wrk -t2 -c20 -d300s --latency http://127.0.0.1:$P/ >"$T/wrk.out" 2>&1 &
wrk_pid=$!
PIDS+=("$wrk_pid")
sleep 1 # wrk's load before the first reload
for i in $(seq 1 $((2 * N))); do
        echo "$i" >"$VERSION_FILE"
        if [ "$i" -le "$N" ]; then
                kind=graceful
                if [ $((i % 2)) = 0 ]; then touch "$T/reload.trigger"; else kill -HUP "$v_pid"; fi
        else
                kind=chain
                if [ $((i % 2)) = 0 ]; then touch "$T/chain.trigger"; else kill -USR2 "$v_pid"; fi
        fi
        wait_until 30 version_is "$i" || fail "$kind reload $i: the new code does not answer"
        # Every worker runs the new code before the next reload.
        wait_until 30 bash -c "! grep -q 'serve until' '$T/v.log' || [ \$(grep -c 'previous worker (pid' '$T/v.log') -ge \$((\$(grep -c 'reloaded:' '$T/v.log') * 2)) ]" ||
                fail "$kind reload $i: the previous workers did not finish"
done
ok "$N graceful and $N chain reloads, each answered by the new code"
kill -INT "$wrk_pid"
wait "$wrk_pid" 2>/dev/null
sed 's/^/    /' "$T/wrk.out" | grep -E "requests in|Latency|99%|Socket|Non-2xx"
grep -q "Socket errors" "$T/wrk.out" && fail "wrk saw socket errors during reloads"
grep -q "Non-2xx" "$T/wrk.out" && fail "wrk saw non-2xx responses during reloads"
ok "no failed, reset or non-2xx request during $((2 * N)) reloads"
assert_eq "$(pgrep -P "$v_pid" | wc -l)" "2" "two workers, no leftovers"

# Broken code: the reload keeps the previous workers serving, and says so.
echo 'raise RuntimeError("broken deploy")' >"$T/broken.py"
cp "$APPS/versionapp.py" "$T/good.py"
sed -i "s|wsgi-file = .*|wsgi-file = $T/current.py|" "$T/app.ini"
cp "$T/good.py" "$T/current.py"
kill -HUP "$v_pid"
wait_until 30 bash -c "grep -c 'reloaded:' '$T/v.log' | grep -q $((2 * N + 1))" || fail "reload to current.py"
wait_until 30 version_is "$((2 * N))" || fail "current.py does not answer"
cp "$T/broken.py" "$T/current.py"
kill -HUP "$v_pid"
wait_until 30 grep -q "reload failed: the app does not load" "$T/v.log" || fail "no reload-failed line"
assert_eq "$(curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:$P/)" "200" "the previous workers keep serving"
cp "$T/good.py" "$T/current.py"
echo fixed >"$VERSION_FILE"
kill -HUP "$v_pid"
wait_until 30 version_is fixed || fail "the fixed code did not come back"
ok "after a broken deploy, the next reload recovers"

# A broken ini: the reload is refused before anything stops.
echo "processes = many" >>"$T/app.ini"
kill -HUP "$v_pid"
wait_until 10 grep -q "reload refused" "$T/v.log" || fail "a broken ini was not refused"
assert_file_contains "$T/v.log" "app.ini:9: processes: expected a positive integer" "the refusal says why"
assert_eq "$(curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:$P/)" "200" "still serving"
stop_pid "$v_pid"

# lazy-apps: each worker imports the new code.
P=$(free_port)
echo lazy1 >"$VERSION_FILE"
start_vassal lz --http-socket 127.0.0.1:$P --wsgi-file "$APPS/versionapp.py" --lazy-apps \
        --processes 2 --disable-logging
wait_ready lz http://127.0.0.1:$P/
echo lazy2 >"$VERSION_FILE"
kill -HUP "$lz_pid"
wait_until 30 version_is lazy2 || fail "lazy-apps reload did not run new code"
ok "lazy-apps reload runs the new code"
stop_pid "$lz_pid"

# `cd project && vassal uwsgi.ini` with `chdir`: the ini's relative path must still name it
# at the reload (the master has moved into chdir by then), by SIGHUP and by touch-reload.
P=$(free_port)
mkdir -p "$T/project" "$T/elsewhere"
cat >"$T/project/rel.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P
wsgi-file = $APPS/versionapp.py
chdir = $T/elsewhere
touch-reload = $T/rel.trigger
disable-logging = true
INI
echo rel1 >"$VERSION_FILE"
(cd "$T/project" && exec "$VASSAL" rel.ini) >"$T/rel.log" 2>&1 &
rel_pid=$!
PIDS+=("$rel_pid")
wait_ready rel http://127.0.0.1:$P/
echo rel2 >"$VERSION_FILE"
kill -HUP "$rel_pid"
wait_until 30 version_is rel2 || fail "SIGHUP with a relative ini and chdir did not reload: $(grep -i 'refused\|cannot' "$T/rel.log")"
ok "a relative ini path survives chdir: SIGHUP reloads"
echo rel3 >"$VERSION_FILE"
touch "$T/rel.trigger"
wait_until 30 version_is rel3 || fail "touch-reload with a relative ini and chdir did not reload"
ok "and touch-reload too"
stop_pid "$rel_pid"
