# A conf dir that is itself a symlink, swapped as deploy tools do (ln -sfn new tmp && mv -T tmp
# CONF_DIR): the emperor follows the name, not the directory it first led to. Within a second
# or two (3 s allowed on a loaded machine; the periodic scan is every 5 s) the new set of
# vassals is there: one only in the old release is stopped, one only in the new is started,
# one in both is reloaded from its new ini. A swap further up the path, which no watch sees,
# is picked up by SIGHUP.
. "$(dirname "$0")/lib.sh"

read -r PA PB PC <<<"$(free_ports 3 | tr '\n' ' ')"
# release DIR NAME PORT [LINE]: an ini in a release directory.
release_ini() {
        mkdir -p "$1"
        printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nprocesses = 1\n%s\n' \
                "$3" "$APPS" "${4:-}" >"$1/$2.ini"
}
release_ini "$T/rel1" a $PA
release_ini "$T/rel1" b $PB
release_ini "$T/rel2" a $PA "env = RELEASE=2"
release_ini "$T/rel2" c $PC

# The link lives in a directory of its own ($T/site1), itself reached through a symlink
# ($T/current) for the SIGHUP case below.
mkdir -p "$T/site1"
ln -s "$T/rel1" "$T/site1/conf"
ln -s "$T/site1" "$T/current"
CONF="$T/current/conf"
start_emperor
wait_until 15 state_is a running || fail "a did not start"
wait_until 15 state_is b running || fail "b did not start"
assert_eq "$(vassal_field a ini)" "$T/rel1/a.ini" "a runs from release 1"
a_pid=$(vassal_field a pid)

# names: the vassals listed, but those stopping (what the emperor has let go of).
names() { ctl --json status | python3 -c '
import json, sys
print(" ".join(sorted(v["name"] for v in json.load(sys.stdin)["vassals"] if v["state"] != "stopping")))'; }
names_are() { [ "$(names)" = "$1" ]; }
ini_is() { [ "$(vassal_field "$1" ini)" = "$2" ]; }
# reloaded NAME OLD_PID: running again, under another pid.
reloaded() { state_is "$1" running && [ "$(vassal_field "$1" pid)" != "$2" ]; }

# The swap, as deploy tools do it.
ln -sfn "$T/rel2" "$T/site1/conf.tmp" && mv -T "$T/site1/conf.tmp" "$T/site1/conf"
start=$SECONDS
wait_until 3 names_are "a c" ||
        fail "the swap was not noticed within 3 s: vassals '$(names)'"
ok "within 3 s of the swap the vassals are 'a c' ($((SECONDS - start)) s)"
wait_until 15 state_is c running || fail "c (only in release 2) did not start"
wait_until 15 http_ok http://127.0.0.1:$PC/ || fail "c does not serve"
ok "c, only in the new release, serves"
wait_until 15 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$PB/" ||
        fail "b, only in the old release, still serves"
ok "b, only in the old release, is stopped"
wait_until 15 ini_is a "$T/rel2/a.ini" ||
        fail "a does not run from release 2: $(vassal_field a ini)"
wait_until 15 reloaded a "$a_pid" ||
        fail "a was not reloaded from its new ini"
ok "a, in both releases, is reloaded from release 2's ini"
assert_contains "$(cat "$T/emperor.log")" "now leads to '$T/rel2'" "the swap is logged"

# A swap no watch sees: the parent of the link is itself a link, swapped. SIGHUP resolves the
# whole path again (the periodic scan would too, within 5 s).
mkdir -p "$T/site2"
ln -s "$T/rel1" "$T/site2/conf"
ln -sfn "$T/site2" "$T/current.tmp" && mv -T "$T/current.tmp" "$T/current"
kill -HUP "$emperor_pid"
wait_until 3 names_are "a b" ||
        fail "SIGHUP did not pick up the swap: vassals '$(names)'"
ok "after SIGHUP the vassals are 'a b' again"
wait_until 15 state_is b running || fail "b did not come back"
wait_until 15 ini_is a "$T/rel1/a.ini" ||
        fail "a does not run from release 1 again"
ok "a runs from release 1 again"
# The link's new parent is watched: a swap there is seen without a signal.
ln -sfn "$T/rel2" "$T/site2/conf.tmp" && mv -T "$T/site2/conf.tmp" "$T/site2/conf"
wait_until 3 names_are "a c" || fail "a swap in the new parent was not noticed: vassals '$(names)'"
ok "a swap in the link's new parent is noticed too"
