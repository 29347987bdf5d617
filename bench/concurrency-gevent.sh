#!/usr/bin/env bash
# The gevent rows of the concurrency benchmark (issue 9): the same JSON POST app sleeping
# 0.2 s (bench/jsonsleep.py, time.sleep monkey-patched by each server), served by
#   vassal    build/vassal --gevent G --gevent-monkey-patch
#   uwsgi     uwsgi --plugin python3,gevent_python3 --gevent G --gevent-monkey-patch
#   gunicorn  gunicorn -k gevent --worker-connections G
# with PROCESSES worker processes (default 1) of G greenlets (GREENLETS, default 100 1000
# 3000), loaded by `ab -p` at each concurrency C (CONCURRENCY, default 300 1000) for
# max(REQ_MIN, ROUNDS x C) requests. Prints req/s, p50, p99, failed (ab's failed + non-2xx),
# the ideal min(C, P x G) / 0.2 s, the server's CPU per request (its workers' and master's
# utime + stime over the run / requests: what the engine costs, whatever else the machine is
# doing), and ab's CPU. ab needs a core of its own: with CEILING=1 (default) the vassal at
# each g is also loaded without the sleep (?0) at the highest concurrency, and that figure,
# what ab and the machine allow, is printed as the ceiling under the ideal.
#
# Every run is under `flock /tmp/heavy.lock` (one heavy run at a time on this machine),
# bounded (seconds), on 127.0.0.1, and stops only the pids it started.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
SYS_PY=/usr/bin/python3
VASSAL=${VASSAL:-$TOP/build/vassal}
PROCESSES=${PROCESSES:-1}
GREENLETS=${GREENLETS:-"100 1000 3000"}
CONCURRENCY=${CONCURRENCY:-"300 1000"}
SERVERS=${SERVERS:-"vassal uwsgi gunicorn"}
ROUNDS=${ROUNDS:-10}
REQ_MIN=${REQ_MIN:-3000}
CEILING=${CEILING:-1}
# Each ab run takes the machine's heavy-run lock first (one load at a time on a shared box).
LOCK=${LOCK:-flock /tmp/heavy.lock}
RESULTS=${RESULTS:-/tmp/emperor-bench/gevent-$(date +%Y%m%d-%H%M%S)}
START_TIMEOUT=20 STOP_TIMEOUT=15 MAX_LOAD=99
. bench/lib.sh

for tool in ab curl flock /usr/bin/time; do
	command -v "$tool" >/dev/null || die "missing: $tool: run make deps"
done
[ -x "$VASSAL" ] || die "no $VASSAL: run make"
"$SYS_PY" -c 'import gevent' 2>/dev/null || die "missing: python3-gevent"
mkdir -p "$RESULTS"
APP_DIR=$TOP/bench
BODY=$RESULTS/body.json
"$SYS_PY" -c 'import json; print(json.dumps({"id": 7, "items": list(range(20)), "name": "x" * 200}))' >"$BODY"

start_server() {  # NAME PORT G: starts it in the background as SRV_PID, stop signal SRV_SIG
	local name=$1 port=$2 g=$3 log=$4
	case $name in
	vassal)
		"$VASSAL" --http-socket 127.0.0.1:$port --wsgi-file "$APP_DIR/jsonsleep.py" \
			--processes "$PROCESSES" --gevent "$g" --gevent-monkey-patch --listen 4096 \
			--disable-logging >"$log" 2>&1 &
		SRV_SIG=TERM ;;
	uwsgi)
		uwsgi --plugin python3,gevent_python3 --http-socket 127.0.0.1:$port \
			--wsgi-file "$APP_DIR/jsonsleep.py" --master --processes "$PROCESSES" \
			--gevent "$g" --gevent-monkey-patch --listen 4096 --disable-logging \
			>"$log" 2>&1 &
		SRV_SIG=INT ;;
	gunicorn)
		/usr/bin/gunicorn -b 127.0.0.1:$port --chdir "$APP_DIR" -w "$PROCESSES" -k gevent \
			--worker-connections "$g" --backlog 4096 jsonsleep:application >"$log" 2>&1 &
		SRV_SIG=TERM ;;
	*) die "unknown server $name" ;;
	esac
	SRV_PID=$!
}

cpu_ticks() {  # utime + stime of the pids given, in clock ticks
	local t=0 p v
	for p in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) && t=$((t + v))
	done
	echo "$t"
}

trap 'stop_server "$RESULTS/meta.txt" 2>/dev/null' EXIT
echo "# gevent concurrency, $(date -u +%FT%TZ), $(nproc) CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" \
	| tee "$RESULTS/meta.txt"
printf '%-9s %6s %6s %7s %9s %8s %8s %7s %9s %11s %8s\n' server procs×g c requests "req/s" \
	"p50 ms" "p99 ms" failed ideal "cpu µs/req" "ab cpu" | tee "$RESULTS/table.txt"
for g in $GREENLETS; do
	for name in $SERVERS; do
		port=$(free_port)
		dir=$RESULTS/$name-$g
		mkdir -p "$dir"
		start_server "$name" "$port" "$g" "$dir/server.log"
		server_wait_up "$port" "$dir" || { echo "$name g=$g: did not start" | tee -a "$RESULTS/table.txt"; continue; }
		sleep 0.5
		pids="$SRV_PID $(children_of "$SRV_PID" | tr '\n' ' ')"
		ab -q -n 200 -c 50 -p "$BODY" -T application/json "http://127.0.0.1:$port/" >/dev/null 2>&1
		for c in $CONCURRENCY; do
			n=$((ROUNDS * c)); [ "$n" -lt "$REQ_MIN" ] && n=$REQ_MIN
			out=$dir/ab-c$c.txt
			before=$(cpu_ticks $pids)
			$LOCK /usr/bin/time -f 'abcpu %U %S %e' -o "$dir/abtime-c$c.txt" \
				ab -r -s 30 -n "$n" -c "$c" -p "$BODY" -T application/json \
				"http://127.0.0.1:$port/" >"$out" 2>&1
			after=$(cpu_ticks $pids)
			"$SYS_PY" -I - "$name" "$PROCESSES" "$g" "$c" "$out" "$dir/abtime-c$c.txt" \
				"$((after - before))" "$(getconf CLK_TCK)" <<'EOF' | tee -a "$RESULTS/table.txt"
import re, sys
name, procs, g, c, out, abt, ticks, hz = sys.argv[1:9]
procs, g, c, ticks, hz = int(procs), int(g), int(c), int(ticks), int(hz)
text = open(out, errors="replace").read()
def num(pattern, default=None):
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else default
done = num(r"^Complete requests:\s+(\d+)", 0)
rps = num(r"^Requests per second:\s+([\d.]+)")
failed = num(r"^Failed requests:\s+(\d+)", 0) + num(r"^Non-2xx responses:\s+(\d+)", 0)
p50, p99 = num(r"^\s+50%\s+(\d+)"), num(r"^\s+99%\s+(\d+)")
ideal = min(c, procs * g) / 0.2
cpu_us = ticks / hz * 1e6 / done if done else float("nan")
ab = open(abt).read().split()
ab_cpu = f"{(float(ab[1]) + float(ab[2])) / float(ab[3]) * 100:.0f}%" if len(ab) >= 4 and float(ab[3]) > 0 else "?"
fmt = lambda v, f: ("-" if v is None else f % v)
print(f"{name:<9} {procs:>2}×{g:<4} {c:>6} {int(done):>8} {fmt(rps, '%.0f'):>9} {fmt(p50, '%.0f'):>8} "
      f"{fmt(p99, '%.0f'):>8} {int(failed):>7} {ideal:>9.0f} {cpu_us:>11.0f} {ab_cpu:>8}")
EOF
		done
		# The ceiling: the same server and ab at the highest concurrency, without the wait.
		# What it serves is what the machine (ab on one core, the server on the rest) allows
		# whatever the sleep; the ideal at that concurrency cannot be beaten past it.
		if [ "$CEILING" = 1 ] && [ "$name" = vassal ]; then
			c=${CONCURRENCY##* }
			$LOCK ab -r -s 30 -n "$((ROUNDS * c))" -c "$c" -p "$BODY" \
				-T application/json "http://127.0.0.1:$port/?0" >"$dir/ceiling.txt" 2>&1
			echo "# ceiling (no sleep, c=$c, same server and ab): $(grep -E '^Requests per second' "$dir/ceiling.txt" | awk '{print $4}') req/s" \
				| tee -a "$RESULTS/table.txt"
		fi
		curl -sf -o /dev/null --max-time 5 -d '{}' "http://127.0.0.1:$port/" ||
			echo "$name g=$g: no longer answers after the load" | tee -a "$RESULTS/table.txt"
		stop_server "$dir/meta.txt"
	done
done
echo "# results in $RESULTS"
