#!/usr/bin/env bash
# bench/cheaper-memory.sh: what a fleet of idle vassals costs in memory, with and without
# cheaper. For each MODE, starts our emperor on N vassals of `processes = 4` serving
# examples/hello.py, waits until all run and SETTLE more seconds (one request each, so every
# app has served), then sums the PSS and RSS (/proc/PID/smaps_rollup) of every process under
# the emperor (the emperor itself left out). Modes: full (4 workers each), cheaper
# (cheaper = 1), idle (cheaper = 1 and idle = IDLE: no worker at all once idle).
# Only processes started here are signalled, by pid. Run it under `flock /tmp/heavy.lock`.
set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-50}
MODES=${MODES:-"full cheaper idle"}
SETTLE=${SETTLE:-10}
IDLE=${IDLE:-5}
EMPEROR=${EMPEROR:-$TOP/build/emperor}
CTL=${CTL:-$TOP/build/emperorctl}
[ -x "$EMPEROR" ] && [ -x "$CTL" ] || { echo "bench: run make first" >&2; exit 2; }

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

ports=$(python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$N")

printf '%-8s %-8s %-10s %-12s %-12s\n' mode vassals processes "pss MiB" "rss MiB"
for mode in $MODES; do
	d=$(mktemp -d /tmp/cheaper-memory.XXXXXX)
	mkdir -p "$d/conf"
	i=0
	for p in $ports; do
		i=$((i + 1))
		{
			printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/examples/hello.py\n' "$p" "$TOP"
			printf 'processes = 4\ndisable-logging = true\n'
			case $mode in
			cheaper) printf 'cheaper = 1\n' ;;
			idle) printf 'cheaper = 1\nidle = %s\n' "$IDLE" ;;
			esac
		} >"$d/conf/v$i.ini"
	done
	"$EMPEROR" --run-dir "$d/run" --state-dir "$d/state" --http none "$d/conf" >"$d/emperor.log" 2>&1 &
	e=$!
	for _ in $(seq 600); do
		up=$("$CTL" --run-dir "$d/run" status 2>/dev/null | grep -c ' running ')
		[ "$up" -ge "$N" ] && break
		sleep 1
	done
	for p in $ports; do curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$p/"; done
	sleep "$SETTLE"
	[ "$mode" = idle ] && sleep "$((IDLE * 2))"
	procs=$(descendants "$e")
	n=$(echo "$procs" | grep -c .)
	# kB of each process's PSS and RSS; a process gone meanwhile counts nothing.
	read -r pss rss < <(for p in $procs; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
		awk '/^Pss:/{p += $2} /^Rss:/{r += $2} END {print p + 0, r + 0}')
	awk -v m="$mode" -v v="$N" -v n="$n" -v p="$pss" -v r="$rss" \
		'BEGIN { printf "%-8s %-8d %-10d %-12.1f %-12.1f\n", m, v, n, p / 1024, r / 1024 }'
	kill -TERM "$e"
	wait "$e"
	rm -rf "$d"
done
