#!/usr/bin/env bash
# bench/concurrency.sh: I/O-bound apps, side by side in one run: the vassal, Debian's uWSGI and
# gunicorn -k gthread serve examples/sleepy.py (a JSON POST handler that sleeps 0.2 s, a
# stand-in for a database call) with PROCESSES processes of 100, 1000 and 3000 threads each,
# under `ab -p` at concurrency 300 and 1000. Prints req/s, p99, failed requests and the ideal
# (the requests that can be in flight, min(concurrency, processes x threads), per 0.2 s).
# One server runs at a time, each started once per thread count and stopped after its loads.
# Run it under the machine's benchmark lock: flock /tmp/heavy.lock bench/concurrency.sh
#
# Knobs: PROCESSES (2), THREADS_LIST ("100 1000 3000"), CONCURRENCY_LIST ("300 1000"),
# AB_REQUESTS (2000; at least 4 x the concurrency, so each connection sends a few),
# APP (sleepy; flasksleepy is the same in Flask, callable app),
# SERVERS ("vassal uwsgi gunicorn-gthread"), MODES ("threads"), RESULTS.
#
# MODES: "threads" is what this script measures. The gevent core (issue 9) adds a "gevent"
# mode: its rows need server_cmd to know how each server runs N greenlets (vassal `--gevent N`,
# uWSGI `--plugin gevent_python3 --gevent N`, gunicorn `-k gevent --worker-connections N`);
# until then a mode or server it does not know is reported as "not available" and skipped,
# never measured as something else.

set -u -o pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/bench/lib.sh"

PROCESSES=${PROCESSES:-2}
THREADS_LIST=${THREADS_LIST:-"100 1000 3000"}
CONCURRENCY_LIST=${CONCURRENCY_LIST:-"300 1000"}
AB_REQUESTS=${AB_REQUESTS:-2000}
SERVERS=${SERVERS:-"vassal uwsgi gunicorn-gthread"}
MODES=${MODES:-threads}
START_TIMEOUT=${START_TIMEOUT:-60}  # 3000 threads take a few seconds to start
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
MAX_LOAD=${MAX_LOAD:-1.5}
VASSAL=${VASSAL:-$TOP/build/vassal}
UWSGI=${UWSGI:-uwsgi}
GUNICORN=${GUNICORN:-/usr/bin/gunicorn}
SYS_PY=/usr/bin/python3
SLEEP=0.2                           # examples/sleepy.py's wait (SLEEPY_SECONDS)
APP=${APP:-sleepy}
CALLABLE=application
case $APP in flask*) CALLABLE=app ;; esac
[ -f "$TOP/examples/$APP.py" ] || die "examples/$APP.py not found"
POST="$TOP/bench/post.json"
RESULTS=${RESULTS:-/tmp/emperor-bench/concurrency-$(date +%Y%m%d-%H%M%S)}

missing=()
for t in ab curl "$UWSGI"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[ -x "$GUNICORN" ] || missing+=("$GUNICORN")
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || missing+=("uwsgi-plugin-python3")
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}: run make deps"
[ -x "$VASSAL" ] || die "$VASSAL not found: run make"
mkdir -p "$RESULTS" || die "cannot create $RESULTS"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 8192 ] || die "ulimit -Hn must allow 8192 descriptors"
ulimit -Sn "$(ulimit -Hn)"
export SLEEPY_SECONDS=$SLEEP

SRV_PID= SRV_SIG=TERM SRV_KIDS=
trap '[ -n "$SRV_PID" ] && stop_server /dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# server_cmd SERVER MODE N PORT: fills CMD and SRV_SIG; returns 1 when that server has no such
# mode (here: every mode but threads, until the gevent core lands).
server_cmd() {
	local name=$1 mode=$2 n=$3 port=$4
	[ "$mode" = threads ] || return 1
	case $name in
	vassal)
		CMD=("$VASSAL" --http-socket "127.0.0.1:$port" --wsgi-file "$TOP/examples/$APP.py" --callable "$CALLABLE"
			--processes "$PROCESSES" --threads "$n" --listen 4096 --disable-logging)
		SRV_SIG=TERM ;;
	uwsgi)
		CMD=("$UWSGI" --plugin python3 --http-socket "127.0.0.1:$port" --wsgi-file "$TOP/examples/$APP.py" --callable "$CALLABLE"
			--master --processes "$PROCESSES" --threads "$n" --listen 4096 --disable-logging)
		SRV_SIG=INT ;;  # SIGTERM reloads uWSGI
	gunicorn-gthread)
		CMD=("$GUNICORN" -b "127.0.0.1:$port" --chdir "$TOP/examples" -w "$PROCESSES" -k gthread
			--threads "$n" --worker-connections "$((n > 1000 ? n : 1000))" --backlog 4096
			"$APP:$CALLABLE")
		SRV_SIG=TERM ;;
	*) return 1 ;;
	esac
}

# ab_row FILE: "req/s p99 failed" from ab's output (p99 in ms; "-" when ab did not finish).
ab_row() {
	awk '/^Requests per second:/ { rps = $4 } /^Failed requests:/ { failed = $3 }
		/^Non-2xx responses:/ { non2xx = $3 } /^  99%/ { p99 = $2 }
		END { if (rps == "") { print "- - -"; exit }
		      printf "%.0f %s %d\n", rps, p99, failed + non2xx }' "$1"
}

{
	echo "date: $(date -Is)"
	echo "git: $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)"
	echo "host: $(uname -srm), $(nproc) cpus, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "processes: $PROCESSES; threads: $THREADS_LIST; concurrency: $CONCURRENCY_LIST; ab -n max($AB_REQUESTS, 4 x concurrency)"
	echo "app: examples/$APP.py; servers: $SERVERS; modes: $MODES"
} >"$RESULTS/config.txt"
cat "$RESULTS/config.txt"
load_high && echo "bench: WARNING: load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cpus: numbers will be noisy" >&2

printf '%-8s %7s %5s  %-17s %7s %8s %6s %7s\n' mode threads conc server "req/s" "p99 ms" failed ideal |
	tee "$RESULTS/report.txt"
for mode in $MODES; do
	for n in $THREADS_LIST; do
		for name in $SERVERS; do
			dir="$RESULTS/$mode-$n/$name"
			mkdir -p "$dir"
			port=$(free_port)
			if ! server_cmd "$name" "$mode" "$n" "$port"; then
				printf '%-8s %7s %5s  %-17s %s\n' "$mode" "$n" - "$name" "not available" |
					tee -a "$RESULTS/report.txt"
				continue
			fi
			printf '%q ' "${CMD[@]}" >"$dir/cmd.txt"
			(cd "$TOP" && exec "${CMD[@]}") >"$dir/server.log" 2>&1 </dev/null &
			SRV_PID=$!
			if ! server_wait_up "$port" "$dir"; then
				printf '%-8s %7s %5s  %-17s %s\n' "$mode" "$n" - "$name" "FAILED TO START" |
					tee -a "$RESULTS/report.txt"
				continue
			fi
			url="http://127.0.0.1:$port/"
			timeout 60 ab -s 30 -n 200 -c 50 -p "$POST" -T application/json "$url" >"$dir/warmup.txt" 2>&1
			for c in $CONCURRENCY_LIST; do
				n_req=$((4 * c > AB_REQUESTS ? 4 * c : AB_REQUESTS))
				timeout 300 ab -r -s 30 -n "$n_req" -c "$c" -p "$POST" -T application/json \
					"$url" >"$dir/ab-c$c.txt" 2>&1
				read -r rps p99 failed < <(ab_row "$dir/ab-c$c.txt")
				slots=$((PROCESSES * n))
				ideal=$(awk -v c="$c" -v s="$slots" -v t="$SLEEP" 'BEGIN { printf "%.0f", (c < s ? c : s) / t }')
				printf '%-8s %7s %5s  %-17s %7s %8s %6s %7s\n' "$mode" "$n" "$c" "$name" \
					"$rps" "$p99" "$failed" "$ideal" | tee -a "$RESULTS/report.txt"
			done
			stop_server "$dir/meta.txt"
		done
	done
done
echo "bench: results in $RESULTS"
