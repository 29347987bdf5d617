# The emperor supervising programs that are not WSGI apps (`exec = ...`): one serving on the
# socket the emperor bound and handed down (fd 3, through the vassal), and
# `python3 -m http.server` binding its own port. Both stop with their ini.
. "$(dirname "$0")/lib.sh"

start_emperor
P=$(free_port)
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nexec = /usr/bin/python3 %s/fd3server.py\n' $P "$APPS" >"$T/.x"
mv "$T/.x" "$CONF/fd3.ini"
wait_until 15 http_ok http://127.0.0.1:$P/ || fail "the fd-3 program did not serve"
ok "an exec vassal serves on the socket it was handed (fd 3)"
wait_until 5 state_is fd3 running || fail "fd3 not running"
info=$(curl -s http://127.0.0.1:$P/)
assert_contains "$info" "fd3 pid=" "the program answers itself"

P2=$(free_port)
printf '[uwsgi]\nexec = /usr/bin/python3 -m http.server %s --bind 127.0.0.1 --directory %s\n' $P2 "$APPS" >"$T/.y"
mv "$T/.y" "$CONF/web.ini"
wait_until 15 http_ok http://127.0.0.1:$P2/testapp.py || fail "http.server did not serve"
ok "an exec vassal running python3 -m http.server binds its own port and serves"
wait_until 5 state_is web running || fail "web not running"

rm "$CONF/fd3.ini" "$CONF/web.ini"
wait_until 15 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$P/ && ! curl -s -m 1 -o /dev/null http://127.0.0.1:$P2/" ||
        fail "exec vassals still serving after their inis were removed"
ok "both stop with their ini"
pgrep -f "http.server $P2" >/dev/null && fail "http.server left behind"
pgrep -f "$APPS/fd3server.py" >/dev/null && fail "fd3server left behind"
ok "nothing left behind"
