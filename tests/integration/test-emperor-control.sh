# Who may use the control socket: root may do anything; another user is refused (the socket
# is 0660, and the daemon checks SO_PEERCRED too); malformed and oversized requests get a clear
# error and the daemon carries on. In tyrant mode each vassal runs as its ini's owner, a
# root-owned ini is refused, and a user sees and acts on their own vassals only.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
chmod 755 "$T"

start_emperor
P=$(free_port)
make_ini app $P
wait_until 10 state_is app running || fail "app did not start"
assert_eq "$(stat -c %a "$RUN/control.sock")" "660" "control socket is 0660"

out=$(as_nobody "$CTL" --run-dir "$RUN" status 2>&1); rc=$?
assert_eq "$rc" "1" "another user cannot connect (exit 1)"
assert_contains "$out" "permission denied" "and is told so"
# Even with the file opened up, the daemon refuses by credentials.
chmod 666 "$RUN/control.sock"
out=$(as_nobody "$CTL" --run-dir "$RUN" stop app 2>&1); rc=$?
assert_eq "$rc" "1" "another user's stop is refused (exit 1)"
assert_contains "$out" "permission denied" "by the daemon"
assert_eq "$(vassal_field app state)" "running" "the vassal was not touched"

# Bad requests: each gets a clear error; the daemon keeps answering.
reply() { python3 - "$RUN/control.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode("latin-1") + b"\n")
s.settimeout(5)
print(s.makefile("rb").readline().decode().strip())
PY
}
assert_contains "$(reply 'not json')" '"code":"bad-request"' "garbage -> bad-request"
assert_contains "$(reply '{"v":1}')" 'missing \"cmd\"' "no cmd"
assert_contains "$(reply '{"v":1,"cmd":"explode"}')" '"code":"usage"' "unknown command"
assert_contains "$(reply '{"v":1,"cmd":"stop"}')" '"code":"usage"' "stop without a vassal"
assert_contains "$(reply '{"v":1,"cmd":"stop","vassal":7}')" '"code":"bad-request"' "vassal not a string"
assert_contains "$(reply '{"v":1,"cmd":"stop","vassal":"../../etc"}')" '"code":"no-such-vassal"' "a path is no vassal"
assert_contains "$(reply '{"v":99,"cmd":"status"}')" 'unsupported protocol version' "future protocol version"
big=$(head -c 70000 /dev/zero | tr '\0' a)
assert_contains "$(reply "$big")" '"code":"too-large"' "an oversized request -> too-large"
assert_eq "$(vassal_field app state)" "running" "the daemon still answers"
stop_pid "$emperor_pid"

# Tyrant mode.
rm -f "$CONF"/*.ini
start_emperor --tyrant
assert_eq "$(stat -c %a "$RUN/control.sock")" "666" "tyrant control socket is 0666"
P1=$(free_port); P2=$(free_port)
make_ini mine $P1
chown nobody:nogroup "$CONF/mine.ini"
touch "$CONF/mine.ini"
make_ini roots $P2
wait_until 10 state_is mine running || fail "nobody's vassal did not start: $(ctl status mine)"
uid=$(awk '/^Uid:/ {print $2}' /proc/"$(vassal_field mine pid)"/status)
assert_eq "$uid" "$(id -u nobody)" "a vassal runs as its ini's owner"
wait_until 10 state_is roots config-error || fail "a root-owned ini was not refused"
assert_contains "$(vassal_field roots last_error)" "refusing an ini owned by root" "and says why"
out=$(as_nobody "$CTL" --run-dir "$RUN" status)
assert_contains "$out" "mine" "a user sees their vassal"
case "$out" in *roots*) fail "a user sees root's vassal" ;; esac
ok "and not root's"
as_nobody "$CTL" --run-dir "$RUN" stop roots >/dev/null 2>&1
assert_eq "$?" "3" "acting on root's vassal: no such vassal"
as_nobody "$CTL" --run-dir "$RUN" restart mine >/dev/null || fail "a user cannot restart their vassal"
ok "a user may restart their own vassal"
