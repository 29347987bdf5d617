#!/usr/bin/env bash
# bench/emperor.sh: our emperor (build/emperor CONF --run-dir R --state-dir S) vs Debian's
# `uwsgi --emperor CONF`, side by side in one run, with the same vassal ini text for both (uWSGI
# needs `plugins = python3`, our vassal accepts and ignores it). One emperor at a time, only
# 127.0.0.1. bench/emperor_bench.py drives each emperor through the measurements and saves
# results.json; bench/emperor_report.py prints the table. See bench/README.md for the knobs.

set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/bench/lib.sh"
BENCH="$TOP/bench"

ROUNDS=${ROUNDS:-20}                 # 1. mv in -> first 200
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROUNDS must be a positive integer (got '$ROUNDS')" >&2; exit 2; }
RELOADS=${RELOADS:-$(( ROUNDS / 2 > 0 ? ROUNDS / 2 : 1 ))}  # 2. touch -> new worker pid
STOPS=${STOPS:-$RELOADS}             # 3. rm -> port refuses
BURST=${BURST:-50}                   # 4. inis dropped at once
BURST_RUNS=${BURST_RUNS:-1}
FLEET=${FLEET:-100}                  # 5. idle vassals for the RSS and CPU of the emperor
IDLE=${IDLE:-30}                     # seconds of idle CPU measured
SETTLE=${SETTLE:-3}                  # seconds after the fleet serves, before measuring
JITTER=${JITTER:-3}                  # random pause (0..JITTER s) before each timed action
POLL_MS=${POLL_MS:-3}                # pause between two probes of one port
START_TIMEOUT=${START_TIMEOUT:-30}   # seconds a vassal may take to serve
STOP_TIMEOUT=${STOP_TIMEOUT:-60}     # seconds a port may stay open after rm; emperor exit bound
EMPERORS=${EMPERORS:-"emperor uwsgi"}
STEPS=${STEPS:-"start reload stop burst fleet"}
CGROUP=${CGROUP:-private}            # private: run our emperor in its own cgroup (see README)
WAIT_QUIET=${WAIT_QUIET:-600}        # wait up to this many seconds for loadavg <= MAX_LOAD
MAX_LOAD=${MAX_LOAD:-1.5}
SEED=${SEED:-1}
EMPEROR=${EMPEROR:-$TOP/build/emperor}
VASSAL=${VASSAL:-$TOP/build/vassal}
UWSGI=${UWSGI:-uwsgi}
SYS_PY=/usr/bin/python3            # Debian's; `python3` on PATH may be pyenv's
HELLO="$TOP/examples/hello.py"
PIDAPP="$BENCH/pidapp.py"
RESULTS=${RESULTS:-/tmp/emperor-bench/emperor-$(date +%Y%m%d-%H%M%S)}


# ---- preflight: every tool, or a clear message -----------------------------------------------
missing=()
for t in "$UWSGI" ps; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[ -x "$SYS_PY" ] || missing+=("$SYS_PY")
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || missing+=("uwsgi-plugin-python3")
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}: run make deps"
for f in "$EMPEROR" "$VASSAL"; do [ -x "$f" ] || die "$f not found: run make"; done
for f in "$HELLO" "$PIDAPP" "$BENCH/emperor_bench.py" "$BENCH/emperor_report.py"; do
	[ -f "$f" ] || die "$f not found"
done
for v in ROUNDS RELOADS STOPS BURST BURST_RUNS FLEET POLL_MS START_TIMEOUT STOP_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $SEED =~ ^[0-9]+$ ]] || die "SEED must be an integer (got '$SEED')"
for v in IDLE SETTLE JITTER WAIT_QUIET; do
	[[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number (got '${!v}')"
done
for e in $EMPERORS; do
	case $e in emperor|uwsgi) ;; *) die "unknown emperor '$e' in EMPERORS (emperor uwsgi)" ;; esac
done
for s in $STEPS; do
	case $s in start|reload|stop|burst|fleet) ;; *) die "unknown step '$s' in STEPS (start reload stop burst fleet)" ;; esac
done
case $CGROUP in private|inherit) ;; *) die "CGROUP must be private or inherit (got '$CGROUP')" ;; esac

mkdir -p "$RESULTS" || die "cannot create $RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
for e in $EMPERORS; do [ ! -e "$RESULTS/$e" ] || die "$RESULTS/$e exists: pick a new RESULTS"; done

# Run copies: a `make` during the run (the tree is shared) must not swap the programs. The emperor
# finds the vassal and emperor-web (its dashboard, which it runs with --http) next to itself;
# --vassal says so explicitly too.
WEB=${WEB:-$(dirname "$EMPEROR")/emperor-web}
mkdir -p "$RESULTS/bin" && cp "$EMPEROR" "$RESULTS/bin/emperor" && cp "$VASSAL" "$RESULTS/bin/vassal" &&
	cp "$WEB" "$RESULTS/bin/emperor-web" || die "cannot copy the binaries to $RESULTS/bin"

# ---- the one helper we are running now: interrupted, it stops its emperor ----------------------
HELPER=
cleanup() {
	if [ -n "$HELPER" ]; then
		kill -TERM "$HELPER" 2>/dev/null
		wait "$HELPER" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


{
	echo "date: $(date -Is)"
	echo "git: $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$([ -z "$(git -C "$TOP" status --porcelain -- emperor vassal lib 2>/dev/null)" ] || echo ' (+local changes in emperor/, vassal/ or lib/)')"
	echo "emperor binary: $EMPEROR, built $(date -r "$EMPEROR" +%FT%T), sha256 $(sha256sum <"$EMPEROR" | cut -c1-16)"
	echo "vassal binary: $VASSAL, built $(date -r "$VASSAL" +%FT%T), sha256 $(sha256sum <"$VASSAL" | cut -c1-16)"
	echo "uwsgi: $("$UWSGI" --version 2>&1 | head -1) ($(command -v "$UWSGI"))"
	echo "host: $(uname -srm), $(nproc) cpus, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rounds: $ROUNDS, reloads: $RELOADS, stops: $STOPS, burst: $BURST x $BURST_RUNS, fleet: $FLEET, idle: ${IDLE}s"
	echo "jitter: 0-${JITTER}s, poll: ${POLL_MS}ms, seed: $SEED, cgroup: $CGROUP, steps: $STEPS, emperors: $EMPERORS"
	echo "ini: [uwsgi] plugins = python3, http-socket = 127.0.0.1:PORT, wsgi-file = $HELLO (reload: $PIDAPP),"
	echo "     processes = 1, threads = 1, master = true, disable-logging = true"
} >"$RESULTS/config.txt"

wait_quiet() {
	if [ "${WAIT_QUIET%.*}" -gt 0 ] && load_high; then
		echo "bench: load average $(cut -d' ' -f1 /proc/loadavg) > $MAX_LOAD: waiting up to ${WAIT_QUIET%.*}s for it to drop"
		local t0=$SECONDS
		while load_high && [ $((SECONDS - t0)) -lt "${WAIT_QUIET%.*}" ]; do sleep 10; done
	fi
	if load_high; then
		echo "bench: WARNING: load average is $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cpus; numbers will be noisy" >&2
		echo "warning: $1 started with loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/config.txt"
	fi
}
echo "bench: results in $RESULTS"

failed=0
for e in $EMPERORS; do
	wait_quiet "$e"
	busy=$(cpu_busy)
	echo "bench: $e (cpu busy before: $busy%, loadavg $(cut -d' ' -f1 /proc/loadavg))"
	echo "$e: cpu busy before $busy%, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/config.txt"
	"$SYS_PY" -I "$BENCH/emperor_bench.py" --kind "$e" --work "$RESULTS/$e" \
		--emperor "$RESULTS/bin/emperor" --vassal "$RESULTS/bin/vassal" --uwsgi "$UWSGI" \
		--hello "$HELLO" --pidapp "$PIDAPP" --rounds "$ROUNDS" --reloads "$RELOADS" --stops "$STOPS" \
		--burst "$BURST" --burst-runs "$BURST_RUNS" --fleet "$FLEET" --idle "$IDLE" --settle "$SETTLE" \
		--jitter "$JITTER" --poll-ms "$POLL_MS" --start-timeout "$START_TIMEOUT" \
		--stop-timeout "$STOP_TIMEOUT" --cgroup "$CGROUP" --seed "$SEED" --steps "$STEPS" &
	HELPER=$!
	wait "$HELPER" || failed=1
	HELPER=
done

"$SYS_PY" -I "$BENCH/emperor_report.py" "$RESULTS" | tee "$RESULTS/report.txt"
exit $failed
