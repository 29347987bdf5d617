#!/usr/bin/env bash
# bench/emperor-kill.sh: what `kill -9` of the emperor costs a fleet under load, ours beside
# Debian's `uwsgi --emperor`, in one run. For each: N vassals (the same ini text: hello, one
# process; uWSGI's with `plugins = python3`), tests/integration/fleetload.py on all of them for
# the whole run, kill -9 of the emperor after WARM seconds, a new emperor DOWN seconds later,
# then RECOVER seconds of load. Prints requests, failed, p99 and max latency. Only processes
# started here are signalled, by pid; what a killed uWSGI emperor leaves is stopped by pid.
set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-20}
WARM=${WARM:-3}
DOWN=${DOWN:-3}
RECOVER=${RECOVER:-5}
SYS_PY=/usr/bin/python3
EMPEROR=${EMPEROR:-$TOP/build/emperor}
UWSGI=${UWSGI:-uwsgi}
command -v "$UWSGI" >/dev/null && [ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] ||
	{ echo "bench: uwsgi and uwsgi-plugin-python3 are needed (make deps)" >&2; exit 2; }
[ -x "$EMPEROR" ] || { echo "bench: run make first" >&2; exit 2; }

run() { # run emperor|uwsgi
	local kind=$1 d ports e load
	d=$(mktemp -d /tmp/emperor-kill.XXXXXX)
	mkdir -p "$d/conf"
	mapfile -t ports < <("$SYS_PY" -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print("\n".join(str(x.getsockname()[1]) for x in s))' "$N")
	for k in $(seq 0 $((N - 1))); do
		printf '[uwsgi]\nplugins = python3\nmaster = true\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/examples/hello.py\nprocesses = 1\ndisable-logging = true\n' \
			"${ports[$k]}" "$TOP" >"$d/conf/v$k.ini"
	done
	start() {
		if [ "$kind" = emperor ]; then
			"$EMPEROR" --run-dir "$d/run" --state-dir "$d/state" --http none "$d/conf" >>"$d/log" 2>&1 &
		else
			"$UWSGI" --emperor "$d/conf" >>"$d/log" 2>&1 &
		fi
		e=$!
	}
	start
	for p in "${ports[@]}"; do
		for _ in $(seq 300); do curl -sf -o /dev/null -m 1 "http://127.0.0.1:$p/" && break; sleep 0.1; done
	done
	"$SYS_PY" "$TOP/tests/integration/fleetload.py" "$d/stop" "${ports[@]}" >"$d/load" 2>&1 &
	load=$!
	sleep "$WARM"
	kill -KILL "$e"
	wait "$e" 2>/dev/null
	sleep "$DOWN"
	start
	sleep "$RECOVER"
	touch "$d/stop"
	wait "$load"
	printf '%-8s %s\n' "$kind" "$(head -1 "$d/load")"
	kill -TERM "$e"
	wait "$e" 2>/dev/null
	# A killed uWSGI emperor's vassals may outlive it for a moment: ours to stop, by pid.
	for p in $(pgrep -f "$d/conf/" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
	sleep 1
	rm -rf "$d"
}

echo "$N vassals, load on all; kill -9 of the emperor after ${WARM}s, a new one ${DOWN}s later"
run emperor
run uwsgi
