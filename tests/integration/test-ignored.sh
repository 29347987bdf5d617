# Files of the conf dir that the emperor will not take are said once, escaped, and listed by
# `emperorctl status` (issue: a name with a space, an escape sequence or 250 characters was
# ignored without a word, a too-large ini warned about every 5 s forever). A NUL in a control
# request cannot name another vassal, and a wrong name gets a did-you-mean.
. "$(dirname "$0")/lib.sh"

start_emperor
P=$(free_port)
make_ini good $P
wait_until 15 state_is good running || fail "good not running"
touch "$CONF/bad name.ini"
printf '[uwsgi]\n' >"$CONF/$(printf 'esc\033[31mred').ini"
touch "$CONF/$(printf 'x%.0s' $(seq 250)).ini"
head -c 2000000 /dev/zero | tr '\0' '#' >"$T/huge.tmp"
mv "$T/huge.tmp" "$CONF/huge.ini"
kill -HUP "$emperor_pid"
wait_until 10 grep -q "huge.ini' ignored: larger than 1 MiB" "$T/emperor.log" || fail "no warning for the huge ini"
# Two periodic scans (every 5 s) later, each still said exactly once.
sleep 11
for f in "bad name.ini" 'esc\x1b[31mred.ini' "huge.ini" "xxxxxxxxxx"; do
        n=$(grep -F "$f" "$T/emperor.log" | grep -c "ignored")
        [ "$n" = 1 ] || fail "'$f' said $n times: $(grep -F "$f" "$T/emperor.log")"
done
ok "each ignored file is said once, escaped"
grep -q $'\033' "$T/emperor.log" && fail "an escape sequence reached the log"
ok "no escape sequence reaches the log"
out=$(ctl status 2>&1 >/dev/null)
assert_contains "$out" "warning: 'bad name.ini' ignored: not a vassal name" "status lists the bad name"
assert_contains "$out" "'huge.ini' ignored: larger than 1 MiB" "and the huge ini"
assert_contains "$out" 'esc\x1b[31mred.ini' "and the escape, escaped"

# A NUL in a request: refused, and vassal 'good' is not stopped.
reply=$(/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"{\"v\":1,\"cmd\":\"stop\",\"vassal\":\"good\\u0000x\"}\n")
print(s.recv(4096).decode().strip())' "$RUN/control.sock")
assert_contains "$reply" "NUL character" "a NUL in a request is refused"
state_is good running || fail "good was stopped by 'good\\u0000x'"
ok "and names no vassal"

# A wrong vassal name gets the closest one the caller may see.
out=$(ctl stop godo 2>&1) && fail "stop of a missing vassal succeeded"
assert_contains "$out" "no vassal named 'godo'; did you mean 'good'?" "a wrong name gets a did-you-mean"
out=$(ctl stop zzzzzzzz 2>&1)
assert_contains "$out" "no vassal named 'zzzzzzzz'" "a name close to nothing gets none"
case $out in *"did you mean"*) fail "a suggestion for zzzzzzzz: $out" ;; esac
