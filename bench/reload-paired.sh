#!/usr/bin/env bash
# bench/reload-paired.sh: p99 during reloads against p99 without, measured in ONE run per mode,
# so the machine's drift cancels out. bench/reload.sh compares a reload run with a baseline run
# made a minute earlier; on this machine two identical runs a minute apart differ by up to 3x in
# p99, which swamps what a reload does. Here the load (bench/timeline.c, keep-alive, every
# response timed) runs for 1 + CYCLES x 4 s against one server; each cycle touches the trigger
# and the 2 s after the touch are "with reloads", the next 2 s "without". Per mode: the p99 and
# max of each window class and their ratio, and the requests that failed (there is no failure
# count: a request the server drops is sent again on a new connection, so it shows as latency).
#
#   bench/reload-paired.sh                      # vassal: plain, lazy, chain (about 3 minutes)
#   SERVERS="vassal uwsgi" bench/reload-paired.sh
set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/bench/lib.sh"

SERVERS=${SERVERS:-vassal}
MODES=${MODES:-"plain lazy chain"}
CYCLES=${CYCLES:-10}
CONNECTIONS=${CONNECTIONS:-50}
PROCESSES=${PROCESSES:-2}
THREADS=${THREADS:-2}
START_TIMEOUT=30
STOP_TIMEOUT=30
MAX_LOAD=${MAX_LOAD:-1.5}
SYS_PY=/usr/bin/python3
UWSGI=${UWSGI:-uwsgi}
BUILD=$TOP/build
APP="$TOP/tests/integration/apps/versionapp.py"
RESULTS=${RESULTS:-/tmp/emperor-bench/reload-paired-$(date +%Y%m%d-%H%M%S)}

make -s -C "$TOP" build/vassal build/bench/timeline >/dev/null || die "build failed"
mkdir -p "$RESULTS/bin" || die "cannot create $RESULTS"
cp "$BUILD/vassal" "$RESULTS/bin/vassal"  # a reload re-executes it: a make meanwhile must not
VASSAL="$RESULTS/bin/vassal"
SRV_PID=
SRV_KIDS=
SRV_SIG=TERM
trap '[ -n "$SRV_PID" ] && stop_server /dev/null' EXIT

load_high && echo "bench: WARNING: loadavg $(cut -d' ' -f1 /proc/loadavg): numbers will be noisy" >&2

run() {  # SERVER MODE
	local name=$1 mode=$2 dir port trigger
	dir="$RESULTS/$name/$mode"
	mkdir -p "$dir"
	port=$(free_port)
	{
		printf '[uwsgi]\nplugins = python3\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s\n' "$port" "$APP"
		printf 'processes = %s\nthreads = %s\nmaster = true\ndisable-logging = true\n' "$PROCESSES" "$THREADS"
		printf 'touch-reload = %s/reload.trigger\n' "$dir"
		case $mode in
		lazy) echo "lazy-apps = true" ;;
		chain)
			printf 'touch-chain-reload = %s/chain.trigger\n' "$dir"
			[ "$name" = uwsgi ] && echo "lazy-apps = true" ;;
		esac
	} >"$dir/app.ini"
	: >"$dir/reload.trigger"; : >"$dir/chain.trigger"
	trigger="$dir/reload.trigger"
	[ "$mode" = chain ] && trigger="$dir/chain.trigger"
	echo "${mode}0" >"$dir/version"
	case $name in
	vassal) CMD=("$VASSAL" "$dir/app.ini"); SRV_SIG=TERM ;;
	uwsgi) CMD=("$UWSGI" --ini "$dir/app.ini"); SRV_SIG=INT ;;
	esac
	(cd "$dir" && VERSION_FILE="$dir/version" exec "${CMD[@]}") >"$dir/server.log" 2>&1 </dev/null &
	SRV_PID=$!
	server_wait_up "$port" "$dir" || { echo "bench: $name $mode did not start"; return 1; }
	sleep 1  # uWSGI compares whole-second mtimes
	"$BUILD/bench/timeline" "$port" "$CONNECTIONS" $((1 + 4 * CYCLES + 1)) "$dir/latency.txt" 2>"$dir/timeline.log" &
	local load=$!
	sleep 1
	: >"$dir/touches.txt"
	for ((i = 1; i <= CYCLES; i++)); do
		echo "$mode$i" >"$dir/version.new" && mv "$dir/version.new" "$dir/version"
		date +%s.%N >>"$dir/touches.txt"
		touch "$trigger"
		sleep 4
	done
	wait "$load"
	stop_server "$dir/meta.txt"
	SRV_PID=
	"$SYS_PY" - "$dir" "$name" "$mode" <<'EOF' | tee -a "$RESULTS/report.txt"
import sys
d, name, mode = sys.argv[1:4]
rows = [l.split() for l in open(d + "/latency.txt")]
touches = [float(l) for l in open(d + "/touches.txt")]
on, off = [], []
k = 0
for t, lat in ((float(a), float(b)) for a, b in rows):
    while k + 1 < len(touches) and touches[k + 1] <= t:
        k += 1
    dt = t - touches[k]
    if 0 <= dt < 2:
        on.append(lat)
    elif 2 <= dt < 4:
        off.append(lat)
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")
print("%-7s %-6s with reloads: %8d req p99 %7.2f ms max %8.2f ms | without: %8d req p99 %7.2f ms"
      " max %8.2f ms | p99 ratio %.2fx" % (name, mode, len(on), q(on, .99), max(on or [0]),
                                           len(off), q(off, .99), max(off or [0]),
                                           q(on, .99) / q(off, .99)))
EOF
}

echo "bench: results in $RESULTS"
echo "# $(date -Is) $CYCLES cycles (a touch, 2 s with, 2 s without), $CONNECTIONS keep-alive connections, $PROCESSES processes x $THREADS threads" >"$RESULTS/report.txt"
for s in $SERVERS; do
	for m in $MODES; do
		run "$s" "$m"
	done
done
