# Tyrant mode, probed by an unprivileged user (nobody, who owns the inis below): a vassal's
# unix socket is made with its owner's rights, never as root. An ini cannot take over the
# emperor's control socket, RUN_DIR, a socket in a directory its owner cannot write (not even
# through a symlink it made), another vassal's socket, nor chown its socket to someone else.
# What it may do still works: a socket in its own directory, with its chmod-socket, removed
# when the vassal goes.
. "$(dirname "$0")/lib.sh"

hostile_setup
inode() { stat -c %i "$1"; }

# A program serving "hi" on the socket it is handed (fd 3), as an exec vassal.
cat >"$T/unixserver.py" <<'PY'
import socket
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nhi\n")
    c.close()
PY
# nobody_ini NAME LINE...: an ini owned by nobody, written whole.
nobody_ini() {
        local name=$1; shift
        printf '[uwsgi]\n' >"$T/.$name.tmp"
        for line in "$@"; do printf '%s\n' "$line" >>"$T/.$name.tmp"; done
        chown 65534:65534 "$T/.$name.tmp"
        mv "$T/.$name.tmp" "$CONF/$name.ini"
}
EXEC="exec = /usr/bin/python3 $T/unixserver.py"

# A root-only directory holding root's socket, and nobody's own directory.
mkdir -m 700 "$T/secret"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/secret/root.sock"
secret_ino=$(inode "$T/secret/root.sock")
mkdir -m 755 "$T/pub"
chown 65534:65534 "$T/pub"
as_nobody ln -s "$T/secret" "$T/pub/link"

start_emperor --tyrant
control_ino=$(inode "$RUN/control.sock")

# What nobody may do: their own socket, mode from chmod-socket, owned by them.
nobody_ini ok "socket = $T/pub/ok.sock" "chmod-socket = 660" "$EXEC"
wait_until 15 state_is ok running || fail "nobody's vassal on its own socket: $(ctl status ok)"
assert_eq "$(stat -c '%U %a' "$T/pub/ok.sock")" "nobody 660" "the socket is made as nobody, mode 660"
assert_eq "$(curl -s --max-time 5 --unix-socket "$T/pub/ok.sock" http://x/)" "hi" "and serves"
ok_ino=$(inode "$T/pub/ok.sock")

# The emperor's control socket: refused, it stays the emperor's.
# (a program only this test runs, so no other process on the machine matches it)
ln -s /bin/sleep "$T/hijack-sleep"
nobody_ini hijack "socket = $RUN/control.sock" "exec = $T/hijack-sleep 1000"
wait_until 15 bash -c "[ \"\$(\"$CTL\" --run-dir \"$RUN\" --json status hijack 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[\"vassals\"][0][\"state\"])')\" = config-error ]" ||
        fail "an ini binding RUN_DIR/control.sock was not refused: $(ctl status hijack 2>&1)"
assert_contains "$(vassal_field hijack last_error)" "cannot bind '$RUN/control.sock'" "it says why"
assert_eq "$(inode "$RUN/control.sock")" "$control_ino" "control.sock is still the emperor's"
capture ctl status
expect 0 "root's emperorctl status still answers"
capture ctl stop hijack
expect 0 "and root's emperorctl stop acts"
pgrep -f "$T/hijack-sleep" >/dev/null && fail "the hijacking program runs"
ok "the hijacking program never ran"

# Root's socket in a 0700 directory, directly and through nobody's symlink to it.
nobody_ini secret "socket = $T/secret/root.sock" "$EXEC"
nobody_ini vialink "socket = $T/pub/link/root.sock" "$EXEC"
for v in secret vialink; do
        wait_until 15 bash -c "\"$CTL\" --run-dir \"$RUN\" --json status $v 2>/dev/null | grep -q 'cannot bind'" ||
                fail "$v: a socket in a root-only directory was not refused: $(ctl status $v 2>&1)"
        assert_contains "$(vassal_field $v last_error)" "Permission denied" "$v: refused as nobody would be"
done
assert_eq "$(inode "$T/secret/root.sock")" "$secret_ino" "root's socket is untouched"

# Another vassal's socket, by the same user: refused, the first keeps it.
nobody_ini thief "socket = $T/pub/ok.sock" "$EXEC"
wait_until 15 bash -c "\"$CTL\" --run-dir \"$RUN\" --json status thief 2>/dev/null | grep -q 'cannot bind'" ||
        fail "a second vassal took over another's socket: $(ctl status thief 2>&1)"
assert_contains "$(vassal_field thief last_error)" "in use" "thief: said in use"
assert_eq "$(inode "$T/pub/ok.sock")" "$ok_ino" "the first vassal's socket file is untouched"
assert_eq "$(curl -s --max-time 5 --unix-socket "$T/pub/ok.sock" http://x/)" "hi" "and it still serves"

# chown-socket to another user: only what nobody could do.
nobody_ini chowner "socket = $T/pub/chown.sock" "chown-socket = root" "$EXEC"
wait_until 15 bash -c "\"$CTL\" --run-dir \"$RUN\" --json status chowner 2>/dev/null | grep -q 'cannot bind'" ||
        fail "chown-socket = root was done for nobody: $(ctl status chowner 2>&1)"
[ -e "$T/pub/chown.sock" ] && fail "the half-made socket was left behind"
ok "chown-socket = root refused, nothing left behind"

# Removal: the socket file goes with the vassal; RUN_DIR keeps the emperor's.
rm "$CONF"/*.ini
wait_until 15 bash -c "[ ! -e '$T/pub/ok.sock' ]" || fail "ok.sock left behind"
ok "nobody's socket is removed with its vassal"
wait_until 15 bash -c "[ \"\$(\"$CTL\" --run-dir \"$RUN\" status 2>&1 | grep -c -E 'hijack|secret|thief')\" = 0 ]" ||
        fail "vassals not removed"
assert_eq "$(inode "$RUN/control.sock")" "$control_ino" "control.sock survives the hijacker's removal"
assert_eq "$(inode "$T/secret/root.sock")" "$secret_ino" "and so does root's socket"
capture ctl status
expect 0 "emperorctl status answers at the end"
