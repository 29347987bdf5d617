# py-autoreload (uWSGI's development option): a change to the app's file, or to a module it
# imports, reloads the vassal gracefully within the interval; an unchanged app is left alone;
# a change that breaks the import keeps the old workers serving and is not retried in a loop.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/app"
printf 'WORD = "one"\n' >"$T/app/helper.py"
cat >"$T/app/app.py" <<'PYEOF'
import helper
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %s" % (VERSION, helper.WORD)).encode()]
VERSION = "v1"
PYEOF
P=$(free_port)
start_vassal a --http-socket 127.0.0.1:$P --wsgi-file "$T/app/app.py" --py-autoreload 1
wait_ready a http://127.0.0.1:$P/
assert_eq "$(curl -s http://127.0.0.1:$P/)" "v1 one" "the app answers"
pid=$(pgrep -P "$a_pid" | head -1)
sleep 2.5
assert_eq "$(pgrep -P "$a_pid" | head -1)" "$pid" "unchanged, the worker stays"
grep -q "py-autoreload" "$T/a.log" && fail "a reload with nothing changed"

# The wsgi-file changes: reloaded.
sed -i 's/VERSION = "v1"/VERSION = "v2"/' "$T/app/app.py"
wait_until 15 bash -c "[ \"\$(curl -s http://127.0.0.1:$P/)\" = 'v2 one' ]" ||
        fail "the changed wsgi-file was not reloaded: $(curl -s http://127.0.0.1:$P/); $(tail -5 "$T/a.log")"
assert_file_contains "$T/a.log" "py-autoreload: '$T/app/app.py' changed, reloading" "the change is logged"
ok "a changed wsgi-file reloads the app"

# A module it imports changes: reloaded too.
printf 'WORD = "two"\n' >"$T/app/helper.py"
wait_until 15 bash -c "[ \"\$(curl -s http://127.0.0.1:$P/)\" = 'v2 two' ]" ||
        fail "the changed module was not reloaded: $(curl -s http://127.0.0.1:$P/)"
assert_file_contains "$T/a.log" "py-autoreload: '$T/app/helper.py' changed" "the module named"
ok "a changed imported module reloads the app"

# A change that breaks the import: the old workers keep serving, one attempt per change.
printf 'WORD = (\n' >"$T/app/helper.py"
wait_until 15 grep -q "SyntaxError\|reload failed\|reload refused" "$T/a.log" ||
        fail "no word of the broken module: $(tail -5 "$T/a.log")"
assert_eq "$(curl -s http://127.0.0.1:$P/)" "v2 two" "the old app keeps serving"
n=$(grep -c "py-autoreload:" "$T/a.log")
sleep 3
assert_eq "$(grep -c "py-autoreload:" "$T/a.log")" "$n" "a broken change is not retried in a loop"
stop_pid "$a_pid"
