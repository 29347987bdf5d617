# Where the app's Python comes from: virtualenv (Debian's python3 -m venv), a virtualenv made
# by another Python refused with the reason, pythonpath, env, and module = pkg.mod:callable.
. "$(dirname "$0")/lib.sh"

# A package on a pythonpath entry, imported with module = pkg.mod:callable.
mkdir -p "$T/lib/pkg"
: >"$T/lib/pkg/__init__.py"
cat >"$T/lib/pkg/site.py" <<'PY'
import os
import sys


def app(environ, start_response):
    body = ("%s|%s|%s" % (os.environ.get("GREETING"), sys.prefix, sys.executable)).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
PY
P=$(free_port)
start_vassal v --http-socket 127.0.0.1:$P --pythonpath "$T/lib" --module pkg.site:app \
        --env GREETING=hello-env
wait_ready v http://127.0.0.1:$P/
out=$(curl -s http://127.0.0.1:$P/)
assert_contains "$out" "hello-env|" "env reaches os.environ"
assert_contains "$out" "|/usr|/usr/bin/python3" "Debian's Python without a virtualenv"
stop_pid "$v_pid"

# A virtualenv made by Debian's python3, with system site-packages (Flask from Debian).
/usr/bin/python3 -m venv --without-pip --system-site-packages "$T/venv" ||
        fail "python3 -m venv failed (python3-venv from make deps)"
P=$(free_port)
start_vassal venv --http-socket 127.0.0.1:$P --pythonpath "$T/lib" --module pkg.site:app \
        --virtualenv "$T/venv"
wait_ready venv http://127.0.0.1:$P/
out=$(curl -s http://127.0.0.1:$P/)
assert_contains "$out" "|$T/venv|$T/venv/bin/python" "sys.prefix and sys.executable are the venv's"
stop_pid "$venv_pid"

# A virtualenv made by another Python: refused before anything runs, saying why.
mkdir -p "$T/alien/bin"
ln -s /usr/bin/python3 "$T/alien/bin/python"
printf 'home = /opt/other-python/bin\nversion = 3.9.18\n' >"$T/alien/pyvenv.cfg"
"$VASSAL" --http-socket 127.0.0.1:$(free_port) --module pkg.site:app --pythonpath "$T/lib" \
        --virtualenv "$T/alien" >"$T/alien.log" 2>&1
assert_eq "$?" "78" "a foreign virtualenv exits 78"
assert_file_contains "$T/alien.log" "is for Python 3.9.18, but this vassal embeds Python 3.11" \
        "the version mismatch is explained"
printf 'home = /opt/other-python/bin\nversion = 3.11.7\n' >"$T/alien/pyvenv.cfg"
"$VASSAL" --http-socket 127.0.0.1:$(free_port) --module pkg.site:app --pythonpath "$T/lib" \
        --virtualenv "$T/alien" >"$T/alien2.log" 2>&1
assert_eq "$?" "78" "a virtualenv of another 3.11 installation exits 78"
assert_file_contains "$T/alien2.log" "was made by another Python (home = /opt/other-python/bin)" \
        "the other installation is named"
"$VASSAL" --http-socket 127.0.0.1:$(free_port) --module pkg.site:app \
        --virtualenv "$T/nowhere" >"$T/nowhere.log" 2>&1
assert_eq "$?" "78" "a missing virtualenv exits 78"
