#!/usr/bin/env bash
# bench/emperor-idle.sh: what an idle fleet costs its emperor. For each N in FLEETS, starts our
# emperor on N `exec =` vassals (cheap to start: `sleep`, supervised by a vassal master that
# reports its stats every second as any vassal does), waits until all run and SETTLE more
# seconds, then reads the emperor's CPU time (user + system, /proc/PID/stat) over SECONDS.
# Prints the share of one core, the wake-ups (voluntary context switches) a second and the RSS.
# Only processes started here are signalled, by pid.
set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FLEETS=${FLEETS:-"100 1000"}
SECONDS_IDLE=${SECONDS_IDLE:-30}
SETTLE=${SETTLE:-10}
EMPEROR=${EMPEROR:-$TOP/build/emperor}
CTL=${CTL:-$TOP/build/emperorctl}
[ -x "$EMPEROR" ] && [ -x "$CTL" ] || { echo "bench: run make first" >&2; exit 2; }
HZ=$(getconf CLK_TCK)

printf '%-8s %-10s %-12s %-10s\n' vassals "cpu%" "wakeups/s" "rss"
for n in $FLEETS; do
	d=$(mktemp -d /tmp/emperor-idle.XXXXXX)
	mkdir -p "$d/conf"
	for i in $(seq "$n"); do printf '[uwsgi]\nexec = /bin/sleep 100000\n' >"$d/conf/v$i.ini"; done
	"$EMPEROR" --run-dir "$d/run" --state-dir "$d/state" --http none "$d/conf" >"$d/emperor.log" 2>&1 &
	e=$!
	for _ in $(seq 600); do
		up=$("$CTL" --run-dir "$d/run" status 2>/dev/null | grep -c ' running ')
		[ "$up" -ge "$n" ] && break
		sleep 1
	done
	sleep "$SETTLE"
	t0=$(awk '{print $14 + $15}' /proc/$e/stat)
	w0=$(awk '/^voluntary_ctxt/{print $2}' /proc/$e/status)
	sleep "$SECONDS_IDLE"
	t1=$(awk '{print $14 + $15}' /proc/$e/stat)
	w1=$(awk '/^voluntary_ctxt/{print $2}' /proc/$e/status)
	rss=$(awk '/^VmRSS/{print $2 " " $3}' /proc/$e/status)
	awk -v n="$n" -v t="$((t1 - t0))" -v hz="$HZ" -v s="$SECONDS_IDLE" -v w="$((w1 - w0))" -v r="$rss" \
		'BEGIN { printf "%-8d %-10.2f %-12.1f %-10s\n", n, 100 * t / hz / s, w / s, r }'
	kill -TERM "$e"
	wait "$e"
	rm -rf "$d"
done
