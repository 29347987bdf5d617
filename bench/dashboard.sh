#!/usr/bin/env bash
# bench/dashboard.sh: the dashboard with a big fleet (issue 12's closing measurements, not
# asserted). Starts our emperor with --http on N `exec =` vassals (cheap: `sleep`, each under a
# vassal master that reports its stats every second, as bench/emperor-idle.sh does), waits until
# all run and SETTLE more seconds, then:
#   1. first load of the fleet view in headless Chromium, RUNS times, each in a fresh browser
#      context: the time from the navigation to the full table (bench/dashboard.mjs says what
#      "full" means), with the size and time of /api/vassals and of the sparklines' requests;
#   2. the emperor's and emperor-web's CPU (user + system, /proc/PID/stat) over SECONDS with
#      no dashboard open, then over SECONDS with DASHBOARDS open (one real page plus
#      DASHBOARDS - 1 raw clients of the event stream), and emperor-web's RSS (now and peak).
# Only processes started here are signalled, by pid. Run it alone: flock /tmp/heavy.lock.
set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-1000}
RUNS=${RUNS:-3}
SECONDS_MEASURE=${SECONDS_MEASURE:-30}
DASHBOARDS=${DASHBOARDS:-20}
SETTLE=${SETTLE:-60}
EMPEROR=${EMPEROR:-$TOP/build/emperor}
CTL=${CTL:-$TOP/build/emperorctl}
[ -x "$EMPEROR" ] && [ -x "$CTL" ] && [ -x "$(dirname "$EMPEROR")/emperor-web" ] ||
	{ echo "bench: run make first" >&2; exit 2; }
[ -d "$TOP/node_modules/playwright-core" ] || { echo "bench: missing playwright-core: run npm ci" >&2; exit 2; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "bench: missing chromium: run make deps" >&2; exit 2; }
HZ=$(getconf CLK_TCK)
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
BASE=http://127.0.0.1:$PORT

d=$(mktemp -d /tmp/emperor-dash.XXXXXX)
e= node_pid=
cleanup() {
	[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
	if [ -n "$e" ]; then kill -TERM "$e" 2>/dev/null; wait "$e" 2>/dev/null; fi
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# emperor-web runs as nobody: it must reach the store (as in /var/lib, not mktemp's 0700).
chmod 0755 "$d"
mkdir -p "$d/conf"
for i in $(seq "$N"); do printf '[uwsgi]\nexec = /bin/sleep 100000\n' >"$d/conf/v$i.ini"; done
"$EMPEROR" --run-dir "$d/run" --state-dir "$d/state" --http "127.0.0.1:$PORT" "$d/conf" \
	>"$d/emperor.log" 2>&1 </dev/null &
e=$!
t_start=$(date +%s)
for _ in $(seq 600); do
	up=$("$CTL" --run-dir "$d/run" status 2>/dev/null | grep -c ' running ')
	[ "$up" -ge "$N" ] && break
	sleep 1
done
[ "$up" -ge "$N" ] || { echo "bench: only $up of $N vassals running after 600 s" >&2; exit 1; }
echo "$N vassals running after $(($(date +%s) - t_start)) s; settling ${SETTLE} s"
sleep "$SETTLE"
# emperor-web: the emperor's child running build/emperor-web (its pid changes if it restarts).
web_pid() {
	local p
	for p in $(cat /proc/$e/task/*/children 2>/dev/null); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = emperor-web ] && { echo "$p"; return 0; }
	done
	return 1
}
for _ in $(seq 20); do web=$(web_pid) && break; sleep 0.5; done
[ -n "$web" ] || { echo "bench: no emperor-web child of the emperor ($e)" >&2; exit 1; }
curl -sf -o /dev/null "$BASE/api/vassals" || { echo "bench: $BASE/api/vassals does not answer" >&2; exit 1; }
echo "emperor pid $e, emperor-web pid $web, $BASE; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -s -o /dev/null -w '/api/vassals from curl: %{size_download} B in %{time_total} s\n' "$BASE/api/vassals"

echo "== first load of the fleet view ($RUNS runs, fresh context each)"
node "$TOP/bench/dashboard.mjs" load "$BASE" "$N" "$RUNS" || exit 1

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
# measure LABEL: the CPU of both over SECONDS_MEASURE.
measure() {
	local e0 w0 e1 w1
	e0=$(cpu "$e"); w0=$(cpu "$web")
	sleep "$SECONDS_MEASURE"
	e1=$(cpu "$e"); w1=$(cpu "$web")
	[ "$(web_pid)" = "$web" ] || echo "bench: emperor-web restarted during the window ($web -> $(web_pid))" >&2
	awk -v l="$1" -v et="$((e1 - e0))" -v wt="$((w1 - w0))" -v hz="$HZ" -v s="$SECONDS_MEASURE" \
		-v r="$(rss "$web" VmRSS)" -v h="$(rss "$web" VmHWM)" -v la="$(cut -d' ' -f1 /proc/loadavg)" \
		'BEGIN { printf "%-16s emperor %5.2f%%  emperor-web %5.2f%%  web RSS %5.1f MB (peak %5.1f MB)  load %s\n",
			l, 100 * et / hz / s, 100 * wt / hz / s, r / 1024, h / 1024, la }'
}
echo "== CPU over ${SECONDS_MEASURE} s (share of one core)"
measure "no dashboard"
node "$TOP/bench/dashboard.mjs" hold "$BASE" "$((SECONDS_MEASURE + 5))" "$((DASHBOARDS - 1))" >"$d/hold.out" 2>&1 &
node_pid=$!
for _ in $(seq 120); do grep -q '^ready' "$d/hold.out" && break; kill -0 "$node_pid" 2>/dev/null || break; sleep 0.5; done
grep -q '^ready' "$d/hold.out" || { echo "bench: the dashboards did not open: $(cat "$d/hold.out")" >&2; exit 1; }
measure "$DASHBOARDS dashboards"
wait "$node_pid"; node_pid=
grep '^done' "$d/hold.out"
measure "no dashboard"
echo "emperor-web restarted $(grep -c 'restarting emperor-web' "$d/emperor.log") times during the run"
