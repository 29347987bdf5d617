# 100 vassals: all start and serve, are listed, and stop cleanly on SIGTERM with no process
# left behind.
. "$(dirname "$0")/lib.sh"

N=${FLEET_SIZE:-100}
mkdir -p "$CONF"
mapfile -t ports < <(free_ports "$N")
for i in $(seq "$N"); do
        p=${ports[$((i - 1))]}
        printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nprocesses = 1\nthreads = 1\ndisable-logging = true\n' \
                "$p" "$APPS" >"$CONF/app$i.ini"
done
start_emperor
count_running() {
        ctl --json status | python3 -c '
import json, sys
print(sum(1 for v in json.load(sys.stdin)["vassals"] if v["state"] == "running"))'
}
wait_until 180 bash -c "[ \$('$CTL' --run-dir '$RUN' --json status | python3 -c 'import json,sys; print(sum(1 for v in json.load(sys.stdin)[\"vassals\"] if v[\"state\"]==\"running\"))') -eq $N ]" ||
        fail "only $(count_running) of $N vassals running"
ok "$N vassals running"
assert_eq "$(ctl status | tail -n +2 | wc -l)" "$N" "status lists $N vassals"
bad=0
for p in "${ports[@]}"; do
        [ "$(curl -s -m 5 http://127.0.0.1:$p/)" = "Hello World" ] || bad=$((bad + 1))
done
assert_eq "$bad" "0" "every one of the $N serves"
rss=$(ps -o rss= -p "$emperor_pid")
echo "  (emperor RSS with $N vassals: $((rss / 1024)) MB)"

vpids=$(vassal_pids | tr '\n' ' ')
n=$(echo $vpids | wc -w)
[ "$n" -ge "$N" ] || fail "expected at least $N vassal processes, found $n"
stop_pid "$emperor_pid"
left=0
for p in $vpids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
assert_eq "$left" "0" "no vassal process left after SIGTERM"
bad=0
for p in "${ports[@]}"; do curl -s -m 1 -o /dev/null http://127.0.0.1:$p/ && bad=$((bad + 1)); done
assert_eq "$bad" "0" "every port closed"
