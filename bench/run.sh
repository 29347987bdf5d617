#!/usr/bin/env bash
# bench/run.sh: vassal vs Debian's uWSGI vs Debian's gunicorn (gthread and sync), side by side
# in one run, all serving examples/hello.py with the same processes x threads, request logging
# off. Each server runs on its own free port, is warmed up, measured with wrk (keep-alive) and then
# ab (no keep-alive), and stopped; servers never run at the same time and only one load generator
# runs at a time. The raw outputs go to $RESULTS; bench/report.py prints the table from them.
# See bench/README.md for the knobs (RUNS, PROCESSES, THREADS, SERVERS, LOG_PASS, ...).

set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/bench/lib.sh"
BENCH="$TOP/bench"

PROCESSES=${PROCESSES:-2}
THREADS=${THREADS:-2}
RUNS=${RUNS:-1}
DURATION=${DURATION:-10s}          # wrk -d
WRK_THREADS=${WRK_THREADS:-2}      # wrk -t
WRK_CONNECTIONS=${WRK_CONNECTIONS:-100}  # wrk -c
AB_REQUESTS=${AB_REQUESTS:-10000}  # ab -n
AB_CONCURRENCY=${AB_CONCURRENCY:-300}    # ab -c
WARMUP=${WARMUP:-500}              # warm-up requests (ab -c 10) before measuring
SERVERS=${SERVERS:-"vassal uwsgi gunicorn-gthread gunicorn-sync"}
LOG_PASS=${LOG_PASS:-0}            # 1: a second pass with request logging on (to a file)
START_TIMEOUT=${START_TIMEOUT:-30} # seconds a server may take to answer its first request
STOP_TIMEOUT=${STOP_TIMEOUT:-30}   # seconds a server may take to exit after its stop signal
VASSAL=${VASSAL:-$TOP/build/vassal}
UWSGI=${UWSGI:-uwsgi}
GUNICORN=${GUNICORN:-/usr/bin/gunicorn}
WAIT_QUIET=${WAIT_QUIET:-0}         # wait up to this many seconds for loadavg <= MAX_LOAD
MAX_LOAD=${MAX_LOAD:-1.5}
SYS_PY=/usr/bin/python3            # Debian's; `python3` on PATH may be pyenv's
APP_DIR="$TOP/examples"
APP_MODULE=hello
RESULTS=${RESULTS:-/tmp/emperor-bench/$(date +%Y%m%d-%H%M%S)}


# ---- preflight: every tool, or a clear message -----------------------------------------------
missing=()
for t in wrk ab curl "$UWSGI" timeout ps gzip; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[ -x "$GUNICORN" ] || missing+=("$GUNICORN (Debian's gunicorn)")
[ -x "$SYS_PY" ] || missing+=("$SYS_PY")
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || missing+=("uwsgi-plugin-python3")
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}: run make deps"
[ -x "$VASSAL" ] || die "$VASSAL not found: run make (or make bench)"
[ -f "$APP_DIR/$APP_MODULE.py" ] || die "$APP_DIR/$APP_MODULE.py not found"
for v in PROCESSES THREADS RUNS WRK_THREADS WRK_CONNECTIONS AB_REQUESTS AB_CONCURRENCY WARMUP; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $WAIT_QUIET =~ ^[0-9]+$ ]] || die "WAIT_QUIET must be a number of seconds (got '$WAIT_QUIET')"
[[ $DURATION =~ ^[1-9][0-9]*s$ ]] || die "DURATION must be seconds like 10s (got '$DURATION')"
for s in $SERVERS; do
	case $s in vassal|uwsgi|gunicorn-gthread|gunicorn-sync) ;;
	*) die "unknown server '$s' in SERVERS (vassal uwsgi gunicorn-gthread gunicorn-sync)" ;; esac
done

mkdir -p "$RESULTS" || die "cannot create $RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

# Run a copy of the vassal binary: a `make` during the run (the tree may be shared) must not swap
# the program between runs. The copy stays with the results.
VASSAL_ORIG=$VASSAL
mkdir -p "$RESULTS/bin" && cp "$VASSAL" "$RESULTS/bin/vassal" || die "cannot copy $VASSAL to $RESULTS/bin"
VASSAL="$RESULTS/bin/vassal"

# ---- the one server we are running now: cleaned up on any exit ---------------------------------
SRV_PID=
SRV_SIG=TERM
SRV_KIDS=

cleanup() {
	if [ -n "$SRV_PID" ]; then
		echo "bench: stopping server pid $SRV_PID" >&2
		stop_server /dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM



# TCP counters from /proc/net/netstat: ListenOverflows ListenDrops.
listen_counters() {
	awk '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else print $(n["ListenOverflows"]), $(n["ListenDrops"]) }' /proc/net/netstat
}


server_cmd() { # NAME PORT LOGGING(0|1) -> fills CMD array and SRV_SIG
	local name=$1 port=$2 logging=$3
	case $name in
	vassal)
		CMD=("$VASSAL" --http-socket "127.0.0.1:$port" --wsgi-file "$APP_DIR/$APP_MODULE.py"
			--processes "$PROCESSES" --threads "$THREADS")
		[ "$logging" = 1 ] || CMD+=(--disable-logging)
		SRV_SIG=TERM ;;
	uwsgi)
		CMD=("$UWSGI" --plugin python3 --http-socket "127.0.0.1:$port" --wsgi-file "$APP_DIR/$APP_MODULE.py"
			--master --processes "$PROCESSES" --threads "$THREADS")
		[ "$logging" = 1 ] || CMD+=(--disable-logging)
		SRV_SIG=INT ;;  # SIGTERM is "brutal reload" for uWSGI, not stop
	gunicorn-gthread|gunicorn-sync)
		CMD=("$GUNICORN" -b "127.0.0.1:$port" --chdir "$APP_DIR" -w "$PROCESSES")
		if [ "$name" = gunicorn-gthread ]; then CMD+=(-k gthread --threads "$THREADS"); else CMD+=(-k sync); fi
		[ "$logging" = 1 ] && CMD+=(--access-logfile -)  # no access log by default
		CMD+=("$APP_MODULE:application")
		SRV_SIG=TERM ;;
	esac
}

# start_server NAME PORT LOGGING DIR: starts it in the background, waits for a 200 on /.
start_server() {
	local name=$1 port=$2 logging=$3 dir=$4
	server_cmd "$name" "$port" "$logging"
	printf '%q ' "${CMD[@]}" >"$dir/cmd.txt"; echo >>"$dir/cmd.txt"
	(cd "$TOP" && exec "${CMD[@]}") >"$dir/server.log" 2>&1 </dev/null &
	SRV_PID=$!
	server_wait_up "$port" "$dir"
}


# measure PASS NAME RUN
measure() {
	local pass=$1 name=$2 run=$3 dir port logging=0 lo_before lo_after rc
	[ "$pass" = logging ] && logging=1
	dir="$RESULTS/$pass/$name/run$run"
	mkdir -p "$dir"
	port=$(free_port)
	local busy
	busy=$(cpu_busy)
	printf 'bench: [%s] run %d/%d %-17s port %-5s cpu busy before %3s%%  ' "$pass" "$run" "$RUNS" "$name" "$port" "$busy"
	echo "loadavg: $(cut -d' ' -f1-3 /proc/loadavg)" >"$dir/meta.txt"
	echo "cpu busy before: $busy%" >>"$dir/meta.txt"
	if ! start_server "$name" "$port" "$logging" "$dir"; then
		echo "FAILED TO START (see $dir/server.log)"
		tail -n 5 "$dir/server.log" | sed 's/^/    /'
		return 1
	fi
	local url="http://127.0.0.1:$port/"

	timeout 60 ab -r -n "$WARMUP" -c 10 "$url" >"$dir/warmup.txt" 2>&1
	printf 'warm '

	lo_before=$(listen_counters)
	timeout $((${DURATION%s} + 60)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$DURATION" --latency "$url" \
		>"$dir/wrk.txt" 2>&1
	rc=$?
	lo_after=$(listen_counters)
	echo "wrk: exit $rc; listen overflows/drops before $lo_before after $lo_after" >>"$dir/meta.txt"
	printf 'wrk '

	lo_before=$(listen_counters)
	timeout 300 ab -r -n "$AB_REQUESTS" -c "$AB_CONCURRENCY" "$url" >"$dir/ab.txt" 2>&1
	rc=$?
	lo_after=$(listen_counters)
	echo "ab: exit $rc; listen overflows/drops before $lo_before after $lo_after" >>"$dir/meta.txt"
	printf 'ab '

	# Still serving after the load?
	if curl -sf -o /dev/null --max-time 5 "$url"; then
		echo "after: answers" >>"$dir/meta.txt"
	else
		echo "after: NOT answering a request after the load" >>"$dir/meta.txt"
	fi
	stop_server "$dir/meta.txt"
	# A request log of a 10 s wrk run is ~100 MB: keep it, compressed.
	[ "$(stat -c %s "$dir/server.log")" -gt 1000000 ] && gzip -1 "$dir/server.log"
	echo "stop"
}

# ---- record the setup -------------------------------------------------------------------------
{
	echo "date: $(date -Is)"
	echo "git: $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$([ -z "$(git -C "$TOP" status --porcelain -- vassal lib 2>/dev/null)" ] || echo ' (+local changes in vassal/ or lib/ of the tree)')"
	echo "vassal binary: $VASSAL_ORIG, built $(date -r "$VASSAL_ORIG" +%FT%T), sha256 $(sha256sum <"$VASSAL" | cut -c1-16)"
	echo "host: $(uname -srm), $(nproc) cpus, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "processes: $PROCESSES"
	echo "threads: $THREADS"
	echo "runs: $RUNS"
	echo "wrk: -t$WRK_THREADS -c$WRK_CONNECTIONS -d$DURATION --latency"
	echo "ab: -r -n $AB_REQUESTS -c $AB_CONCURRENCY"
	echo "warmup: $WARMUP"
	echo "servers: $SERVERS"
	echo "somaxconn: $(cat /proc/sys/net/core/somaxconn 2>/dev/null)"
	echo "versions: $("$VASSAL" --version 2>&1 | head -1); uwsgi $("$UWSGI" --version 2>&1 | head -1);" \
		"$("$GUNICORN" --version 2>&1 | head -1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2);" \
		"$(ab -V 2>&1 | head -1)"
} >"$RESULTS/config.txt"

if [ "$WAIT_QUIET" -gt 0 ] && load_high; then
	echo "bench: load average $(cut -d' ' -f1 /proc/loadavg) > $MAX_LOAD: waiting up to ${WAIT_QUIET}s for it to drop"
	t0=$SECONDS
	while load_high && [ $((SECONDS - t0)) -lt "$WAIT_QUIET" ]; do sleep 10; done
fi
if load_high; then
	echo "bench: WARNING: load average is $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cpus; numbers will be noisy" >&2
fi
echo "bench: results in $RESULTS"

passes=nolog
[ "$LOG_PASS" = 1 ] && passes="nolog logging"
read -r -a servers <<<"$SERVERS"
n=${#servers[@]}
failed=0
for pass in $passes; do
	for ((run = 1; run <= RUNS; run++)); do
		# Rotate the order each run so no server always goes first (or right after another).
		for ((k = 0; k < n; k++)); do
			measure "$pass" "${servers[$(((k + run - 1) % n))]}" "$run" || failed=1
		done
	done
done

"$SYS_PY" -I "$BENCH/report.py" "$RESULTS" | tee "$RESULTS/report.txt"
exit $failed
