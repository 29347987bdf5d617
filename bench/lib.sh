# Helpers the bench scripts share (sourced by run.sh, reload.sh and emperor.sh). The caller
# sets SYS_PY, MAX_LOAD, START_TIMEOUT, STOP_TIMEOUT and, for a server, SRV_PID and SRV_SIG.

die() { echo "bench: $*" >&2; exit 2; }

free_port() {
	"$SYS_PY" -I -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The direct children of a pid (the workers of a server we started).
children_of() { ps -o pid= --ppid "$1" 2>/dev/null; }

cpu_busy() {  # percent of all CPUs busy over one second (other users of the machine)
	local a b
	a=$(awk '/^cpu /{ print $2+$3+$4+$6+$7+$8+$9, $5 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu /{ print $2+$3+$4+$6+$7+$8+$9, $5 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = (y[1] - x[1]) + (y[2] - x[2]);
		printf "%.0f\n", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'
}

load_high() { awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$MAX_LOAD" 'BEGIN { exit !(l > m) }'; }

# server_wait_up PORT DIR: waits for the server started as SRV_PID to answer 200 on PORT,
# noting the outcome in DIR/meta.txt; returns 1 (server stopped) when it died or stayed silent.
server_wait_up() {
	local port=$1 dir=$2 t0=$SECONDS
	until curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; do
		if ! kill -0 "$SRV_PID" 2>/dev/null; then
			wait "$SRV_PID"; echo "start: FAILED (exited with status $?)" >>"$dir/meta.txt"
			SRV_PID=; return 1
		fi
		if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
			echo "start: FAILED (no answer within ${START_TIMEOUT}s)" >>"$dir/meta.txt"
			stop_server "$dir/meta.txt"; return 1
		fi
		sleep 0.1
	done
	echo "start: ok in $((SECONDS - t0))s, pid $SRV_PID" >>"$dir/meta.txt"
	SRV_KIDS=$(children_of "$SRV_PID" | tr '\n' ' ')
}

# stop_server METAFILE: its own stop signal to the pid we started (a vassal reload re-executes
# in place, so the pid stays), wait, SIGKILL as a last resort; then any of its workers still
# alive (ours, by pid) are reported and killed.
stop_server() {
	local meta=$1 pid=$SRV_PID kids=$SRV_KIDS p i status
	[ -n "$pid" ] || return 0
	kids="$kids $(children_of "$pid" | tr '\n' ' ')"
	kill -"$SRV_SIG" "$pid" 2>/dev/null
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		echo "stop: FAILED to exit within ${STOP_TIMEOUT}s of SIG$SRV_SIG; sent SIGKILL" >>"$meta"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null; status=$?
	echo "stop: SIG$SRV_SIG, exit status $status after $(awk "BEGIN{print $i/10}")s" >>"$meta"
	for p in $kids; do
		for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$p" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ]; then
			echo "stop: worker pid $p outlived its master; sent SIGKILL" >>"$meta"
			kill -KILL "$p" 2>/dev/null
		fi
	done
	SRV_PID= SRV_KIDS=
}
