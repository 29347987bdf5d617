# What the emperor notices in its conf dir: editor droppings are ignored; a symlinked ini
# works; a Kubernetes-style "..data" symlink swap reloads; `mv` out stops; a replaced conf dir
# is watched again.
. "$(dirname "$0")/lib.sh"

start_emperor
P=$(free_port)

# Droppings: none of these is a vassal.
for f in .hidden.ini app.ini~ app.ini.swp .#app.ini notes.txt 4913; do
        printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = x.py\n' $P >"$CONF/$f"
done
sleep 0.3 # time for a scan that must find nothing
assert_eq "$(ctl status)" "no vassals" "dot-files, backups, swap files and other names ignored"
rm -f "$CONF"/.hidden.ini "$CONF"/app.ini~ "$CONF"/app.ini.swp "$CONF"/.#app.ini "$CONF"/notes.txt "$CONF"/4913

# A symlinked ini.
mkdir -p "$T/elsewhere"
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nenv = GREETING=linked\n' $P "$APPS" >"$T/elsewhere/real.ini"
ln -s "$T/elsewhere/real.ini" "$CONF/linked.ini"
wait_until 10 bash -c "[ \"\$(curl -s 'http://127.0.0.1:$P/osenv?GREETING')\" = linked ]" || fail "symlinked ini not served"
ok "a symlinked ini serves"
rm "$CONF/linked.ini"
wait_until 10 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$P/" || fail "removing the symlink did not stop it"
ok "removing the symlink stops it"

# Kubernetes ConfigMap layout: app.ini -> ..data/app.ini, ..data -> ..v1; an update makes
# ..v2 and renames a new ..data link over the old one.
P2=$(free_port)
mkdir "$CONF/..v1"
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nenv = GREETING=v1\n' $P2 "$APPS" >"$CONF/..v1/cm.ini"
ln -s ..v1 "$CONF/..data"
ln -s ..data/cm.ini "$CONF/cm.ini"
wait_until 10 bash -c "[ \"\$(curl -s 'http://127.0.0.1:$P2/osenv?GREETING')\" = v1 ]" || fail "ConfigMap v1 not served"
ok "ConfigMap layout serves"
mkdir "$CONF/..v2"
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nenv = GREETING=v2\n' $P2 "$APPS" >"$CONF/..v2/cm.ini"
ln -s ..v2 "$CONF/..data_tmp"
mv -T "$CONF/..data_tmp" "$CONF/..data"
wait_until 10 bash -c "[ \"\$(curl -s 'http://127.0.0.1:$P2/osenv?GREETING')\" = v2 ]" || fail "ConfigMap swap not applied"
ok "a ..data symlink swap reloads"

# mv out of the dir stops it.
mv "$CONF/cm.ini" "$T/cm.ini.away"
wait_until 10 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$P2/" || fail "mv out did not stop it"
ok "mv out of the dir stops it"

# The conf dir replaced (rm -rf; mkdir): watched again, new inis found.
rm -rf "$CONF"
mkdir "$CONF"
P3=$(free_port)
make_ini fresh $P3
wait_until 15 http_ok http://127.0.0.1:$P3/ || fail "nothing served from the replaced conf dir"
ok "a replaced conf dir is watched again"
assert_file_contains "$T/emperor.log" "removed or replaced" "the replacement is logged"
