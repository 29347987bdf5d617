# The ini language end to end: a uWSGI user's file works unchanged (%(var), %d, sections,
# flags), bad values are "file:line: key: expected ..." with exit 78, unknown keys warn with a
# suggestion, and an app that fails to import exits 78 with its traceback.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/site1"
cp "$APPS/testapp.py" "$T/site1/wsgi.py"
chmod 755 "$T" # uid = nobody below: run as root, the app then loads as nobody
P=$(free_port)
cat >"$T/site1.ini" <<INI
# a uwsgi.ini as users write them
[uwsgi]
project = site1
base = %d
chdir = %(base)%(project)
wsgi-file = %(chdir)/wsgi.py
http-socket = 127.0.0.1:$P
master = true
processes = 2
threads = 2
enable-threads = true
plugins = python3
uid = nobody    # the default user
env = GREETING=hi from %n
die-on-term = true

[other]
processes = 7
INI
out=$("$VASSAL" --check "$T/site1.ini" 2>&1); rc=$?
assert_eq "$rc" "0" "--check accepts a uWSGI-style ini"
assert_contains "$out" "site1.ini:13: warning: comment after the value was removed: '# the default user'" \
        "inline comment warned with file:line"
start_vassal v "$T/site1.ini"
wait_ready v http://127.0.0.1:$P/
env=$(curl -s http://127.0.0.1:$P/environ)
assert_contains "$env" "\"pid\"" "the app found through %(base)%(project) serves"
wait_until 5 grep -qF "ready: 2 worker(s) x 2 thread(s)" "$T/v.log" || fail "processes and threads from the ini"
ok "processes and threads from the ini"
stop_pid "$v_pid"

# The command line overrides the ini (and adds to lists, as repeated keys do); FILE:SECTION
# picks a section.
P2=$(free_port)
start_vassal v2 "$T/site1.ini" --processes 1 --http-socket 127.0.0.1:$P2
wait_ready v2 http://127.0.0.1:$P2/
wait_until 5 grep -qF "ready: 1 worker(s)" "$T/v2.log" || fail "--processes overrides the ini"
ok "--processes overrides the ini"
assert_eq "$(curl -s http://127.0.0.1:$P/)" "Hello World" "the ini's socket serves too"
stop_pid "$v2_pid"
printf '[vassal]\nhttp-socket = 127.0.0.1:1\nwsgi-file = x.py\n' >"$T/vsec.ini"
assert_eq "$("$VASSAL" --check "$T/vsec.ini" 2>&1)" "$T/vsec.ini: OK" "[vassal] section"
out=$("$VASSAL" --check "$T/site1.ini:other" 2>&1); rc=$?
assert_eq "$rc" "78" "FILE:SECTION with no app fails"
assert_contains "$out" "no app to serve" "FILE:SECTION reads only that section"

# Bad values: file:line, the key, what was expected; exit 78.
cat >"$T/bad.ini" <<'INI'
[uwsgi]
http-socket = 127.0.0.1:1
wsgi-file = app.py
processes = many
enable-thread = true
harakiri-verbose = maybe
buffer-size = 12q
INI
out=$("$VASSAL" --check "$T/bad.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "bad values exit 78"
assert_contains "$out" "$T/bad.ini:4: processes: expected a positive integer" "processes = many"
assert_contains "$out" "$T/bad.ini:5: warning: unknown key 'enable-thread', ignored; did you mean 'enable-threads'?" \
        "unknown key with a suggestion"
assert_contains "$out" "$T/bad.ini:7: buffer-size: expected a size" "bad size"
out=$("$VASSAL" --check --http-socket :1 --wsgi-file x.py --threads 0 2>&1); rc=$?
assert_eq "$rc" "78" "bad command-line value exits 78"
assert_contains "$out" "threads" "command-line error names the key"
printf '[uwsgi]\nchdir = %%(nope)/x\n' >"$T/ref.ini"
out=$("$VASSAL" --check "$T/ref.ini" 2>&1)
assert_contains "$out" "$T/ref.ini:2: %(nope): no such key defined before this line" "unknown %(key)"
out=$("$VASSAL" --check "$T/missing.ini" 2>&1); rc=$?
assert_eq "$rc" "78" "a missing ini exits 78"
assert_contains "$out" "missing.ini" "a missing ini is named"

# Apps that cannot load: exit 78 and the reason in the log.
printf 'import no_such_module_here\n' >"$T/broken.py"
"$VASSAL" --http-socket 127.0.0.1:$(free_port) --wsgi-file "$T/broken.py" >"$T/broken.log" 2>&1
assert_eq "$?" "78" "an app that fails to import exits 78"
assert_file_contains "$T/broken.log" "ModuleNotFoundError: No module named 'no_such_module_here'" "import traceback logged"
printf 'app = None\n' >"$T/nocall.py"
"$VASSAL" --http-socket 127.0.0.1:$(free_port) --wsgi-file "$T/nocall.py" >"$T/nocall.log" 2>&1
assert_eq "$?" "78" "an app without its callable exits 78"
assert_file_contains "$T/nocall.log" "has no callable 'application'" "missing callable explained"
"$VASSAL" --http-socket 127.0.0.1:$(free_port) --wsgi-file "$T/broken.py" --lazy-apps >"$T/lazy.log" 2>&1
assert_eq "$?" "78" "lazy-apps: a failing import in the workers exits 78"
