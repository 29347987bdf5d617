# uid / gid: a vassal started as root binds and opens its log as root, then runs the app (the
# master and every worker) or the exec program as the configured user; an unknown user or
# group, or a switch it cannot make (not root), exits 78 with the reason.
. "$(dirname "$0")/lib.sh"
# A vassal that dropped to nobody re-reads its ini on a reload: nobody must reach it.
chmod 755 "$T"

if [ "$(id -u)" != 0 ]; then
        echo "  skip: not root"
        exit 0
fi

# proc_ids PID: "uid gid groups" from /proc/PID/status (real ids; all four are set alike).
proc_ids() {
        awk '/^Uid:/ { u = $2 } /^Gid:/ { g = $2 } /^Groups:/ { $1 = ""; gr = $0 }
             END { sub(/^ +/, "", gr); print u, g, gr }' "/proc/$1/status"
}
NOBODY=$(id -u nobody) NOGROUP=$(id -g nobody)

# uid = nobody: master and workers are nobody with nobody's primary group; the app serves;
# the log, opened as root in a root-only directory, is still written.
P=$(free_port)
cat >"$T/nobody.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P
wsgi-file = $APPS/testapp.py
processes = 2
uid = nobody
logto = $T/nobody-logto.log
INI
start_vassal nobody "$T/nobody.ini"
wait_ready nobody http://127.0.0.1:$P/
assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "the app serves as nobody"
assert_eq "$(proc_ids "$nobody_pid")" "$NOBODY $NOGROUP $NOGROUP" "the master runs as nobody:nogroup, no other group"
for w in $(pgrep -P "$nobody_pid"); do
        assert_eq "$(proc_ids "$w")" "$NOBODY $NOGROUP $NOGROUP" "worker $w runs as nobody:nogroup"
done
assert_file_contains "$T/nobody-logto.log" "running as uid $NOBODY (nobody), gid $NOGROUP" "the switch is logged"
# The master, now nobody, still restarts its workers and stops them.
old=$(pgrep -P "$nobody_pid" | sort | tr '\n' ' ')
kill -HUP "$nobody_pid"
wait_until 15 bash -c "[ \$(pgrep -P $nobody_pid | wc -l) = 2 ] && [ \"\$(pgrep -P $nobody_pid | sort | tr '\n' ' ')\" != '$old' ]" ||
        fail "SIGHUP as nobody"
assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "serving after a restart as nobody"
stop_pid "$nobody_pid"
wait "$nobody_pid"
assert_eq "$?" "0" "a graceful stop as nobody exits 0"

# gid by name overrides the user's group; numbers work; lazy-apps imports as the user too.
P=$(free_port)
start_vassal ng --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --uid "$NOBODY" --gid daemon \
        --lazy-apps
wait_ready ng http://127.0.0.1:$P/
w=$(pgrep -P "$ng_pid")
assert_eq "$(proc_ids "$w")" "$NOBODY 1 1" "uid by number, gid = daemon"
stop_pid "$ng_pid"

# A uid with no passwd entry needs a gid.
P=$(free_port)
start_vassal num --http-socket 127.0.0.1:$P --wsgi-file "$APPS/testapp.py" --uid 54321 --gid 54321
wait_ready num http://127.0.0.1:$P/
assert_eq "$(proc_ids "$(pgrep -P "$num_pid")")" "54321 54321 54321" "a bare uid and gid without entries"
stop_pid "$num_pid"
out=$("$VASSAL" --http-socket 127.0.0.1:$(free_port) --wsgi-file "$APPS/testapp.py" --uid 54321 2>&1); rc=$?
assert_eq "$rc" "78" "a bare uid without a gid exits 78"
assert_contains "$out" "uid = 54321: no such user in the user database, so no group to run as: set 'gid' too" "explained"

# exec: the program runs as the user.
P=$(free_port)
start_vassal ex --http-socket 127.0.0.1:$P --exec "/usr/bin/python3 $APPS/fd3server.py" --uid nobody
wait_ready ex http://127.0.0.1:$P/
info=$(curl -s http://127.0.0.1:$P/info)
assert_contains "$info" "\"uid\": $NOBODY," "the exec program runs as nobody"
assert_eq "$(proc_ids "$ex_pid")" "$NOBODY $NOGROUP $NOGROUP" "and so does its master"
stop_pid "$ex_pid"

# Unknown names: exit 78, said in --check too.
out=$("$VASSAL" --check --http-socket :1 --wsgi-file x.py --uid no-such-user-here 2>&1); rc=$?
assert_eq "$rc" "78" "--check: unknown user"
assert_contains "$out" "command line: uid = no-such-user-here: no such user" "unknown user named"
out=$("$VASSAL" --http-socket 127.0.0.1:$(free_port) --wsgi-file "$APPS/testapp.py" --gid no-such-group-here 2>&1); rc=$?
assert_eq "$rc" "78" "unknown group exits 78"
assert_contains "$out" "gid = no-such-group-here: no such group" "unknown group named"

# Not root: only "switching" to ourselves is accepted.
P=$(free_port)
chmod 755 "$T"
setpriv --reuid nobody --regid nogroup --clear-groups -- "$VASSAL" --http-socket 127.0.0.1:$P \
        --wsgi-file "$APPS/testapp.py" --uid nobody >"$T/self.log" 2>&1 &
self_pid=$!
PIDS+=("$self_pid")
wait_ready self http://127.0.0.1:$P/
ok "not root, uid = ourselves runs"
stop_pid "$self_pid"
out=$(setpriv --reuid nobody --regid nogroup --clear-groups -- "$VASSAL" \
        --http-socket 127.0.0.1:$(free_port) --wsgi-file "$APPS/testapp.py" --uid root 2>&1); rc=$?
assert_eq "$rc" "78" "not root, uid = root exits 78"
assert_contains "$out" "uid = root: cannot switch: the vassal runs as uid $NOBODY gid $NOGROUP, not as root" \
        "with the reason"

# Files made as root in a directory only root may write (a unix socket, the pidfile with
# vacuum): the master runs as nobody and cannot remove them; the process that kept root for
# this removes them once the master is gone, and holds no port meanwhile.
mkdir -m 755 "$T/rootonly"
P=$(free_port)
cat >"$T/sockets.ini" <<INI
[uwsgi]
http-socket = 127.0.0.1:$P
socket = $T/rootonly/app.sock
wsgi-file = $APPS/testapp.py
uid = nobody
pidfile = $T/rootonly/app.pid
vacuum = true
INI
start_vassal sockets "$T/sockets.ini"
wait_ready sockets http://127.0.0.1:$P/
[ -S "$T/rootonly/app.sock" ] || fail "no socket file"
[ -f "$T/rootonly/app.pid" ] || fail "no pidfile"
assert_eq "$(proc_ids "$sockets_pid" | cut -d' ' -f1)" "$NOBODY" "the master runs as nobody"
janitor=$(pgrep -P "$sockets_pid" -u root)
[ -n "$janitor" ] || fail "no process kept root to remove the files"
ok "pid $janitor keeps root for the files"
[ -z "$(ls -l /proc/$janitor/fd 2>/dev/null | grep -E 'socket:')" ] || fail "it holds sockets: $(ls -l /proc/$janitor/fd)"
ok "and holds no socket"
stop_pid "$sockets_pid"
wait_until 10 bash -c "[ ! -e '$T/rootonly/app.sock' ] && [ ! -e '$T/rootonly/app.pid' ]" ||
        fail "left behind: $(ls "$T/rootonly")"
ok "the socket file and the pidfile are removed"
wait_until 10 gone "$janitor" || fail "the janitor did not exit"
curl -s -m 2 -o /dev/null http://127.0.0.1:$P/ && fail "the port still answers"
grep -q "Failed to remove pidfile" "$T/sockets.log" && fail "a warning about the pidfile: $(cat "$T/sockets.log")"
ok "no false warning, the port is closed, the janitor exited"
