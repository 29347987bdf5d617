#!/usr/bin/env bash
# bench/reload.sh: reloads under load, our vassal vs Debian's uWSGI, with the same ini text for
# both (uWSGI needs `plugins = python3`; our vassal accepts and ignores it), serving
# tests/integration/apps/versionapp.py (it answers the VERSION_FILE it read at import, and its pid).
# For each server: a baseline run without reloads, then three reload modes (plain touch-reload,
# lazy-apps + touch-reload, touch-chain-reload), each under wrk -t2 -c50 with 20 reloads 2 s apart.
# One server at a time, only 127.0.0.1. bench/reload_bench.py drives the wrk run, the touches and
# a prober, and prints the table (`bench/reload_bench.py report RESULTS`). See bench/README.md.

set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/bench/lib.sh"
BENCH="$TOP/bench"

RELOADS=${RELOADS:-20}              # touches per reload run
RUNS=${RUNS:-1}                     # every mode this many times, interleaved (run1/, run2/...):
                                    # this machine's p99 moves 2x between identical runs
INTERVAL=${INTERVAL:-2}             # seconds between touches; a reload must answer within it
LEAD=${LEAD:-1}                     # seconds of load before the first touch
PROCESSES=${PROCESSES:-2}
THREADS=${THREADS:-2}
WRK_THREADS=${WRK_THREADS:-2}       # wrk -t
CONNECTIONS=${CONNECTIONS:-50}      # wrk -c
WRK_TIMEOUT=${WRK_TIMEOUT:-2s}      # wrk --timeout (its default): slower answers count as timeouts
PROBE_MS=${PROBE_MS:-50}            # the version prober: one new connection every PROBE_MS
SERVERS=${SERVERS:-"vassal uwsgi"}
MODES=${MODES:-"baseline plain lazy chain"}
START_TIMEOUT=${START_TIMEOUT:-30}  # seconds a server may take to answer its first request
STOP_TIMEOUT=${STOP_TIMEOUT:-30}    # seconds a server may take to exit after its stop signal
WAIT_QUIET=${WAIT_QUIET:-600}       # first wait up to this many seconds for a quiet machine
MAX_LOAD=${MAX_LOAD:-1.5}
VASSAL=${VASSAL:-$TOP/build/vassal}
UWSGI=${UWSGI:-uwsgi}
SYS_PY=/usr/bin/python3             # Debian's; `python3` on PATH may be pyenv's
APP="$TOP/tests/integration/apps/versionapp.py"
RESULTS=${RESULTS:-/tmp/emperor-bench/reload-$(date +%Y%m%d-%H%M%S)}


# ---- preflight: every tool, or a clear message -----------------------------------------------
missing=()
for t in wrk curl "$UWSGI" ps; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[ -x "$SYS_PY" ] || missing+=("$SYS_PY")
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || missing+=("uwsgi-plugin-python3")
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}: run make deps"
[ -x "$VASSAL" ] || die "$VASSAL not found: run make build/vassal"
for f in "$APP" "$BENCH/reload_bench.py"; do [ -f "$f" ] || die "$f not found"; done
for v in RELOADS PROCESSES THREADS WRK_THREADS CONNECTIONS PROBE_MS START_TIMEOUT STOP_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
for v in INTERVAL LEAD; do
	[[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number of seconds (got '${!v}')"
done
[[ $WAIT_QUIET =~ ^[0-9]+$ ]] || die "WAIT_QUIET must be a number of seconds (got '$WAIT_QUIET')"
[[ $WRK_TIMEOUT =~ ^[1-9][0-9]*(ms|s|m)?$ ]] || die "WRK_TIMEOUT must be like 2s (got '$WRK_TIMEOUT')"
for s in $SERVERS; do
	case $s in vassal|uwsgi) ;; *) die "unknown server '$s' in SERVERS (vassal uwsgi)" ;; esac
done
for m in $MODES; do
	case $m in baseline|plain|lazy|chain) ;; *) die "unknown mode '$m' in MODES (baseline plain lazy chain)" ;; esac
done

mkdir -p "$RESULTS" || die "cannot create $RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
for s in $SERVERS; do [ ! -e "$RESULTS/$s" ] || die "$RESULTS/$s exists: pick a new RESULTS"; done

# Run a copy: a `make` during the run (the tree is shared) must not swap the program. A reload
# re-executes the binary it runs, so the copy is also what every reload runs.
mkdir -p "$RESULTS/bin" && cp "$VASSAL" "$RESULTS/bin/vassal" || die "cannot copy $VASSAL to $RESULTS/bin"
VASSAL_ORIG=$VASSAL
VASSAL="$RESULTS/bin/vassal"

# ---- the one server (or helper) we are running now: cleaned up on any exit ---------------------
SRV_PID=
SRV_SIG=TERM
SRV_KIDS=
HELPER=

cleanup() {
	if [ -n "$HELPER" ]; then  # interrupted: it stops its wrk with SIGINT
		kill -INT "$HELPER" 2>/dev/null
		wait "$HELPER" 2>/dev/null
	fi
	if [ -n "$SRV_PID" ]; then
		echo "bench: stopping server pid $SRV_PID" >&2
		stop_server /dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



# write_ini MODE PORT DIR: the same text for both servers; the mode adds its lines.
write_ini() {
	local mode=$1 port=$2 dir=$3 server=$4
	{
		printf '[uwsgi]\nplugins = python3\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s\n' "$port" "$APP"
		printf 'processes = %s\nthreads = %s\nmaster = true\ndisable-logging = true\n' "$PROCESSES" "$THREADS"
		printf 'touch-reload = %s/reload.trigger\n' "$dir"
		case $mode in
		lazy) echo "lazy-apps = true" ;;
		chain)
			printf 'touch-chain-reload = %s/chain.trigger\n' "$dir"
			# uWSGI's chain reload needs lazy-apps (without it, it says so and does not reload).
			[ "$server" = uwsgi ] && echo "lazy-apps = true" ;;
		esac
	} >"$dir/app.ini"
}

# start_server NAME DIR PORT: starts it in the background, waits for a 200 on /.
start_server() {
	local name=$1 dir=$2 port=$3
	case $name in
	vassal) CMD=("$VASSAL" "$dir/app.ini"); SRV_SIG=TERM ;;
	uwsgi) CMD=("$UWSGI" --ini "$dir/app.ini"); SRV_SIG=INT ;;  # SIGTERM reloads uWSGI
	esac
	printf '%q ' "VERSION_FILE=$dir/version" "${CMD[@]}" >"$dir/cmd.txt"; echo >>"$dir/cmd.txt"
	(cd "$dir" && VERSION_FILE="$dir/version" exec "${CMD[@]}") >"$dir/server.log" 2>&1 </dev/null &
	SRV_PID=$!
	server_wait_up "$port" "$dir"
}


# measure SERVER MODE
measure() {
	local name=$1 mode=$2 dir port busy reloads=$RELOADS trigger rc
	dir="$RUN_ROOT/$name/$mode"
	mkdir -p "$dir"
	port=$(free_port)
	busy=$(cpu_busy)
	printf 'bench: %-6s %-8s port %-5s cpu busy before %3s%%  ' "$name" "$mode" "$port" "$busy"
	{ echo "loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"; echo "cpu busy before: $busy%"; } >"$dir/meta.txt"
	write_ini "$mode" "$port" "$dir" "$name"
	echo "${mode}0" >"$dir/version"
	# The triggers exist before the server starts: uWSGI compares whole-second mtimes, and the
	# first touch comes more than a second later.
	: >"$dir/reload.trigger"; : >"$dir/chain.trigger"
	trigger="$dir/reload.trigger"
	[ "$mode" = chain ] && trigger="$dir/chain.trigger"
	[ "$mode" = baseline ] && reloads=0
	if ! start_server "$name" "$dir" "$port"; then
		echo "FAILED TO START (see $dir/server.log)"
		tail -n 5 "$dir/server.log" | sed 's/^/    /'
		return 1
	fi
	"$SYS_PY" -I "$BENCH/reload_bench.py" run --url "http://127.0.0.1:$port/" --work "$dir" \
		--trigger "$trigger" --version-file "$dir/version" --tag "$mode" --reloads "$reloads" \
		--length-reloads "$RELOADS" --interval "$INTERVAL" --lead "$LEAD" \
		--wrk-threads "$WRK_THREADS" --connections "$CONNECTIONS" --wrk-timeout "$WRK_TIMEOUT" \
		--probe-ms "$PROBE_MS" &
	HELPER=$!
	wait "$HELPER"; rc=$?
	HELPER=
	echo "helper: exit $rc" >>"$dir/meta.txt"
	# Still serving, and how many workers (processes = $PROCESSES; more means leftovers)? A chain
	# or graceful reload may still be finishing: give it a few seconds.
	local n i
	for ((i = 0; i < 50; i++)); do
		n=$(children_of "$SRV_PID" | wc -l)
		[ "$n" -le "$PROCESSES" ] && break
		sleep 0.1
	done
	echo "workers after: $n" >>"$dir/meta.txt"
	curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$port/" ||
		echo "after: NOT answering a request after the run" >>"$dir/meta.txt"
	stop_server "$dir/meta.txt"
	[ "$rc" = 130 ] && exit 130
	return 0
}

# ---- record the setup -------------------------------------------------------------------------
{
	echo "date: $(date -Is)"
	echo "git: $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$([ -z "$(git -C "$TOP" status --porcelain -- vassal lib 2>/dev/null)" ] || echo ' (+local changes in vassal/ or lib/ of the tree)')"
	echo "vassal binary: $VASSAL_ORIG, built $(date -r "$VASSAL_ORIG" +%FT%T), sha256 $(sha256sum <"$VASSAL" | cut -c1-16)"
	echo "uwsgi: $("$UWSGI" --version 2>&1 | head -1) ($(command -v "$UWSGI"))"
	echo "host: $(uname -srm), $(nproc) cpus, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "reloads: $RELOADS every ${INTERVAL}s after ${LEAD}s of load; wrk -t$WRK_THREADS -c$CONNECTIONS --timeout $WRK_TIMEOUT --latency; probe every ${PROBE_MS}ms"
	echo "servers: $SERVERS; modes: $MODES; processes: $PROCESSES; threads: $THREADS"
	echo "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
} >"$RESULTS/config.txt"

# Other users of the machine skew every number: wait for a quiet machine first (no other load
# generator, loadavg <= MAX_LOAD).
others() { pgrep -x wrk >/dev/null || pgrep -x ab >/dev/null; }
if [ "$WAIT_QUIET" -gt 0 ] && { others || load_high; }; then
	echo "bench: waiting up to ${WAIT_QUIET}s for no other wrk/ab and loadavg <= $MAX_LOAD (now $(cut -d' ' -f1 /proc/loadavg))"
	t0=$SECONDS
	while { others || load_high; } && [ $((SECONDS - t0)) -lt "$WAIT_QUIET" ]; do sleep 10; done
fi
if others || load_high; then
	echo "bench: WARNING: loadavg $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cpus$(others && echo ', another wrk/ab is running'); numbers will be noisy" >&2
	echo "warning: started with loadavg $(cut -d' ' -f1-3 /proc/loadavg)$(others && echo ', another wrk/ab running')" >>"$RESULTS/config.txt"
fi
echo "bench: results in $RESULTS"

failed=0
for ((run = 1; run <= RUNS; run++)); do
	RUN_ROOT=$RESULTS
	if [ "$RUNS" -gt 1 ]; then
		RUN_ROOT="$RESULTS/run$run"
		mkdir -p "$RUN_ROOT" && cp "$RESULTS/config.txt" "$RUN_ROOT/config.txt"
		echo "bench: run $run of $RUNS"
	fi
	for s in $SERVERS; do
		for m in $MODES; do
			measure "$s" "$m" || failed=1
		done
	done
	"$SYS_PY" -I "$BENCH/reload_bench.py" report "$RUN_ROOT" | tee "$RUN_ROOT/report.txt"
done
if [ "$RUNS" -gt 1 ]; then
	"$SYS_PY" -I "$BENCH/reload_bench.py" runs "$RESULTS" | tee "$RESULTS/summary.txt"
fi
exit $failed
