#!/usr/bin/env bash
# emperorctl top against a real emperor with two vassals: the live fields of the status reply,
# batch mode (stdout not a terminal) under load, --sort, --json, the option checks, the
# terminal mode on a pseudo-terminal (keys, resize, signals, job control), and exit 4 when the
# emperor is not running or goes away.
. "$(dirname "$0")/lib.sh"

[ -x "$CTL" ] || fail "$CTL is not built"

# run_top ARGS...: emperorctl top, captured (lib.sh).
run_top() { capture ctl top "$@" </dev/null; }


# frames FIELD...: the batch output in $out as one line per frame: for each frame, the given
# columns of every row in order ("zulu:12.5 alpha:0" for NAME and RPS). Fails on a frame
# that does not parse.
cat >"$T/frames.py" <<'EOF'
import sys
want = sys.argv[1:]
for frame in sys.stdin.read().split("\ntop - "):
    lines = frame.strip("\n").split("\n")
    head = [i for i, l in enumerate(lines) if l.startswith("NAME ")]
    if not head:
        sys.exit("no table in frame: %r" % frame)
    cols = lines[head[0]].split()
    rows = [l.split() for l in lines[head[0] + 1:] if l.strip()]
    for r in rows:
        if len(r) != len(cols):
            sys.exit("row %r does not match the columns %r" % (r, cols))
    print(" ".join(":".join(r[cols.index(w)] for w in want) for r in rows))
EOF
frames() { python3 "$T/frames.py" "$@" <<<"$out"; }

# --- an emperor with two vassals: zulu under load, alpha idle ----------------------------
start_emperor --stats-interval 1
read -r PZ PA < <(free_ports 2 | tr '\n' ' ')
make_ini zulu "$PZ"
make_ini alpha "$PA"
wait_until 20 state_is zulu running || fail "zulu did not start"
wait_until 20 state_is alpha running || fail "alpha did not start"
# The first reports come a second after the start; rss is sampled within the first second.
has_rss() { [ "$(vassal_field "$1" rss)" -gt 0 ] 2>/dev/null; }
wait_until 10 has_rss zulu || fail "zulu reports no rss: $(ctl --json status zulu)"
wait_until 10 has_rss alpha || fail "alpha reports no rss"

# --- the live fields of the status reply --------------------------------------------------
json=$(ctl --json status zulu)
python3 - "$json" <<'EOF' || fail "status zulu: the live fields: $json"
import json, sys
v = json.loads(sys.argv[1])["vassals"][0]
# The fields that were there before, unchanged.
for k in ("name", "state", "pid", "uptime", "restarts", "workers", "requests", "last_exit",
          "last_error"):
    assert k in v, k
assert v["workers"] == {"busy": v["workers"]["busy"], "total": 1}, v["workers"]
# The new ones: numbers, or null for what the vassal does not measure.
for k in ("errors", "avg_rt_ms", "p99_rt_ms", "rss", "cpu", "listen_queue", "stats_age"):
    assert k in v, "no %s" % k
    assert v[k] is None or (isinstance(v[k], (int, float)) and v[k] >= 0), (k, v[k])
for k in ("errors", "avg_rt_ms", "rss", "listen_queue", "stats_age"):
    assert v[k] is not None, "%s is null" % k
assert v["rss"] > 1000000, v["rss"]
assert v["stats_age"] < 5, v["stats_age"]
EOF
ok "status: errors, avg_rt_ms, p99_rt_ms, rss, cpu, listen_queue, stats_age"
json=$(ctl --json status)
python3 -c '
import json, sys
for v in json.loads(sys.argv[1])["vassals"]:
    assert "rss" in v and "errors" in v and "stats_age" in v, v' "$json" ||
        fail "status (all): the live fields: $json"
ok "status of the fleet: the live fields too"

# --- batch mode under load ------------------------------------------------------------------
# A bounded load, about 250 requests a second for at most 12 s, one in 25 an exception (the
# errors counter); it stops early once $T/load.stop exists.
cat >"$T/load.py" <<'EOF'
import http.client, os, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
conn = None
for i in range(3000):
    if os.path.exists(stop):
        break
    try:
        conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/exception" if i % 25 == 0 else "/")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        conn = None
    time.sleep(0.004)
EOF
python3 "$T/load.py" "$PZ" "$T/load.stop" >"$T/load.out" 2>&1 &
load_pid=$!
PIDS+=("$load_pid")
has_requests() { [ "$(vassal_field zulu requests)" -gt 20 ] 2>/dev/null; }
wait_until 10 has_requests || fail "the load does not reach zulu"

run_top -n 3 -d 0.5
expect 0 "top -n 3 -d 0.5 in batch mode"
assert_eq "$(grep -c '^top - ' <<<"$out")" 3 "three frames"
case "$out" in *$'\e'*) fail "batch mode printed escape sequences: $out" ;; esac
ok "batch mode: no escape sequences"
assert_contains "$out" "vassals: 2, running: 2" "the header counts the vassals"
assert_contains "$out" "sort: rps" "the header names the sort"
rps=$(frames NAME RPS) || fail "the frames do not parse: $out"
echo "  frames (NAME:RPS): $(tr '\n' '|' <<<"$rps")"
while read -r first second; do
        case "$first" in zulu:*) ;; *) fail "the loaded vassal is not first: '$first $second'" ;; esac
        python3 -c 'import sys; assert float(sys.argv[1]) > 10' "${first#zulu:}" ||
                fail "zulu's rps is not above 10: '$first'"
        assert_eq "$second" "alpha:0" "the idle vassal shows 0 rps"
done <<<"$rps"
ok "every frame: zulu first by rps, with its rate"
errs=$(frames NAME ERR/s | tail -n 1)
python3 -c '
import sys
r = dict(c.split(":") for c in sys.argv[1].split())
assert float(r["zulu"]) > 0 and r["alpha"] == "0", r' "$errs" ||
        fail "ERR/s: the exceptions are not counted: $errs"
ok "ERR/s: zulu's exceptions per second, alpha 0 ($errs)"
frames NAME RSS UPTIME | tail -n 1 | grep -qE '^zulu:[0-9.]+M:[0-9]+s alpha:[0-9.]+M:[0-9]+s$' ||
        fail "RSS and UPTIME: $(frames NAME RSS UPTIME)"
ok "RSS in MiB, UPTIME in seconds"

run_top -n 1 -d 0.5 --sort name
expect 0 "--sort name"
assert_eq "$(frames NAME)" "alpha zulu" "--sort name: a to z"
assert_contains "$out" "sort: name" "--sort name: the header says so"

run_top -n 1 --sort memory
expect 0 "--sort memory"
assert_contains "$out" "sort: memory" "--sort memory: the header says so"
run_top -n 1 --sort latency
expect 0 "--sort latency"
run_top -n 1 --sort cpu
expect 0 "--sort cpu"

# --- --json: one object per frame, on one line ------------------------------------------------
ctl --json top -n 2 -d 0.3 --sort memory >"$T/out" 2>"$T/err" </dev/null
rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
expect 0 "--json top -n 2"
python3 - <<'EOF' "$out" || fail "--json top: $out"
import json, sys
lines = sys.argv[1].split("\n")
assert len(lines) == 2, lines
for line in lines:
    f = json.loads(line)
    assert f["vassals"] == 2 and f["running"] == 2 and f["sort"] == "memory", f
    rows = f["rows"]
    assert sorted(r["name"] for r in rows) == ["alpha", "zulu"], rows
    rss = [r["rss"] for r in rows]
    assert rss == sorted(rss, reverse=True), rss
    for r in rows:
        for k in ("state", "pid", "workers", "rps", "avg_rt_ms", "p99_rt_ms", "errors_per_sec",
                  "rss", "cpu", "listen_queue", "uptime"):
            assert k in r, k
    z = [r for r in rows if r["name"] == "zulu"][0]
    assert z["rps"] > 10, z
EOF
ok "--json top: a JSON object per frame, sorted by rss"

touch "$T/load.stop"
wait "$load_pid" 2>/dev/null

# --- the options: exit 2, one line, nothing on stdout -----------------------------------------
bad() {
        local what=$1
        shift
        run_top "$@"
        expect 2 "$what"
        [ -z "$out" ] || fail "$what: printed on stdout: $out"
        [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$what: not one line: $err"
        assert_contains "$err" "emperorctl: " "$what: says why"
}
bad "--sort bogus" --sort bogus
assert_eq "$err" "emperorctl: invalid --sort 'bogus' (rps, latency, memory, cpu or name)" \
        "--sort bogus: names the keys"
bad "--sort RPS" --sort RPS
bad "-d 0" -d 0
assert_contains "$err" "invalid -d '0'" "-d 0: says which"
bad "-d 0.05 (below 0.1)" -d 0.05
bad "-d -1" -d -1
bad "-d abc" -d abc
bad "-d 1s" -d 1s
bad "-d nan" -d nan
bad "-n 0" -n 0
assert_contains "$err" "invalid -n '0'" "-n 0: says which"
bad "-n -1" -n -1
bad "-n 1.5" -n 1.5
bad "-n x" -n x
bad "-d without a value" -d
bad "an argument" somevassal
bad "--all" --all
run_top -n 1 -d 0.1
expect 0 "-d 0.1, the minimum"

# --- the terminal: a pseudo-terminal driven like a user ---------------------------------------
cat >"$T/ptytop.py" <<'EOF'
# Runs `emperorctl top` on a pseudo-terminal and drives it like a user: keys, a resize, ^C,
# ^Z and fg. A small job-control shell stands between: it owns the terminal's session and
# runs top in a process group of its own in the foreground, as an interactive shell does
# (so that ^Z really stops top: the kernel discards it in an orphaned process group).
# Exits 1 on the first failed check.
import fcntl, os, re, select, signal, struct, sys, termios, time

ctl, rundir, scenario = sys.argv[1:4]
ENTER, LEAVE = b"\x1b[?1049h", b"\x1b[?25h\x1b[?1049l"

def fail(msg):
    print("FAIL: %s: %s" % (scenario, msg))
    if pid:
        os.kill(pid, signal.SIGKILL)
    sys.exit(1)

def ok(msg):
    print("  ok: terminal, %s: %s" % (scenario, msg))

master, slave = os.openpty()
def winsize(rows, cols):
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
winsize(24, 100)
before = termios.tcgetattr(slave)

events_r, events_w = os.pipe()  # the shell's reports: "pid N", "stopped", "exit N"
go_r, go_w = os.pipe()          # "fg" for the shell
if os.fork() == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        os.tcsetpgrp(slave, os.getpid())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.execv(ctl, [ctl, "--run-dir", rundir, "top", "-d", "0.3"] + sys.argv[4:])
    try:
        os.setpgid(child, child)
    except OSError:
        pass  # it did so itself, and exec'd
    os.tcsetpgrp(slave, child)
    os.write(events_w, b"pid %d\n" % child)
    while True:
        _, st = os.waitpid(child, os.WUNTRACED)
        if not os.WIFSTOPPED(st):
            os.write(events_w, b"exit %d\n" % os.waitstatus_to_exitcode(st))
            os._exit(0)
        os.write(events_w, b"stopped\n")
        os.read(go_r, 1)
        os.tcsetpgrp(slave, child)
        os.kill(child, signal.SIGCONT)

out, events, pid = bytearray(), [], 0

def pump(until, timeout=10.0):
    """Reads the terminal and the shell's reports until until() holds or the timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if until():
            return True
        r, _, _ = select.select([master, events_r], [], [], 0.05)
        if master in r:
            try:
                out.extend(os.read(master, 65536))
            except OSError:
                pass
        if events_r in r:
            events.extend(os.read(events_r, 4096).decode().split())
    return until()

def screens(since=0):
    """The frames drawn whole (home ... erase to the end), each as its lines without escape
    sequences."""
    frames = [f.split(b"\x1b[J")[0] for f in out[since:].split(b"\x1b[H")[1:] if b"\x1b[J" in f]
    text = [re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", f).decode("utf-8", "replace") for f in frames]
    return [[l.rstrip("\r") for l in t.split("\n")] for t in text]

def last_screen(since=0):
    s = screens(since)
    return s[-1] if s else []

def exit_status():
    """top's exit status as the shell saw it (negative: the signal), once it exits."""
    if not pump(lambda: "exit" in events):
        fail("top did not exit")
    pump(lambda: False, 0.2)  # what it wrote last
    return int(events[events.index("exit") + 1])

def is_raw():
    lflag = termios.tcgetattr(slave)[3]
    return not lflag & termios.ICANON and not lflag & termios.ECHO

def check_restored():
    for report in (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:"):
        if report in out:
            fail("a sanitizer report: %s" % out[out.find(report) - 200:].decode("utf-8", "replace"))
    after = termios.tcgetattr(slave)
    if after[3] != before[3]:
        fail("the terminal is not restored (lflag %#x, was %#x)" % (after[3], before[3]))
    if out.rfind(LEAVE) < out.rfind(ENTER):
        fail("the alternate screen is not left: %r" % bytes(out[-120:]))
    ok("the terminal is restored")

if not pump(lambda: "pid" in events):
    fail("the shell did not start top")
pid = int(events[events.index("pid") + 1])
if not pump(lambda: ENTER in out and "UPTIME" in "\n".join(last_screen())):
    fail("no frame drawn: %r" % bytes(out[-400:]))
if not is_raw():
    fail("the keyboard is not raw while top runs")
ok("full screen, raw keyboard")

if scenario == "keys":
    os.write(master, b"n")
    if not pump(lambda: "sort: name" in "\n".join(last_screen()), 5):
        fail("'n' did not sort by name: %r" % last_screen())
    names = [l.split()[0] for l in last_screen() if l.startswith(("alpha ", "zulu "))]
    if names != ["alpha", "zulu"]:
        fail("sorted by name: %r" % names)
    ok("n sorts by name")
    os.write(master, b"m")
    if not pump(lambda: "sort: memory" in "\n".join(last_screen()), 5):
        fail("'m' did not sort by memory")
    ok("m sorts by memory")
    mark = len(out)
    # Header, keys, blank, titles: 5 lines leave one, for "(2 more)".
    winsize(5, 40)
    if not pump(lambda: last_screen(mark) and max(map(len, last_screen(mark))) <= 39 and
                "NAME" in "\n".join(last_screen(mark)), 5):
        fail("after a resize to 40x5 the lines are not cut: %r" % last_screen(mark))
    s = last_screen(mark)
    if len(s) != 5 or s[-1] != "(2 more)":
        fail("after a resize to 5 lines: %r" % s)
    ok("a resize cuts the frame to 40x5: %r" % s)
    mark = len(out)
    os.write(master, b" ")
    if not pump(lambda: len(screens(mark)) > 0, 2):
        fail("space did not refresh")
    ok("space refreshes")
    os.write(master, b"q")
    if exit_status() != 0:
        fail("q: exit status %s" % events)
    ok("q quits, exit 0")
    check_restored()
elif scenario in ("sigterm", "sigint"):
    if scenario == "sigterm":
        os.kill(pid, signal.SIGTERM)
        want = -signal.SIGTERM
    else:
        os.write(master, b"\x03")  # ^C: SIGINT from the terminal
        want = -signal.SIGINT
    if exit_status() != want:
        fail("exit %s, expected %d" % (events, want))
    ok("dies of the signal")
    check_restored()
elif scenario == "suspend":
    os.write(master, b"\x1a")  # ^Z
    if not pump(lambda: "stopped" in events, 5):
        fail("^Z did not stop top: %s" % events)
    pump(lambda: False, 0.2)
    if is_raw() or out.rfind(LEAVE) < out.rfind(ENTER):
        fail("stopped with the terminal still in top's mode")
    ok("^Z: stopped, the terminal restored meanwhile")
    mark = len(out)
    os.write(go_w, b"g")  # fg
    if not pump(lambda: ENTER in out[mark:] and is_raw() and len(screens(mark)) > 0, 5):
        fail("after fg: not back on the alternate screen")
    ok("fg: back to full screen, raw keyboard")
    os.write(master, b"q")
    if exit_status() != 0:
        fail("q after fg: exit status %s" % events)
    check_restored()
elif scenario == "count":
    if exit_status() != 0:
        fail("exit status %s" % events)
    tail = out[out.rfind(LEAVE) + len(LEAVE):].decode()
    if "UPTIME" not in tail or "\x1b" in tail:
        fail("the last frame is not left on the terminal: %r" % tail)
    ok("-n 2: exits 0, the last frame stays on the terminal")
    check_restored()
EOF
for s in keys sigterm sigint suspend; do
        python3 "$T/ptytop.py" "$CTL" "$RUN" "$s" || fail "the terminal: $s"
done
python3 "$T/ptytop.py" "$CTL" "$RUN" count -n 2 || fail "the terminal: -n 2"

# --- the emperor goes away mid-run: exit 4 ---------------------------------------------------
ctl top -d 0.2 >"$T/gone.out" 2>"$T/gone.err" </dev/null &
top_pid=$!
PIDS+=("$top_pid")
wait_until 10 grep -q UPTIME "$T/gone.out" || fail "top (in the background) draws no frame"
stop_pid "$emperor_pid"
for _ in $(seq 100); do kill -0 "$top_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$top_pid" 2>/dev/null && fail "top did not notice that the emperor went away"
wait "$top_pid"
rc=$?
err=$(cat "$T/gone.err")
cat "$T/gone.err" >>"$T/ctl-stderr.log"
out=$(cat "$T/gone.out")
expect 4 "the emperor went away mid-run"
assert_contains "$err" "emperorctl: the emperor is not running" "the usual message"
assert_contains "$err" "emperorctl: top: the emperor went away" "top says so"

# --- no emperor: exit 4 ------------------------------------------------------------------------
run_top -n 1
expect 4 "top without an emperor"
assert_eq "$err" "emperorctl: the emperor is not running (cannot connect to $RUN/control.sock: No such file or directory)" \
        "top without an emperor: the usual message"
assert_eq "$out" "" "top without an emperor: nothing on stdout"

echo "test-ctl-top: all passed"
