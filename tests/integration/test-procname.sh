# Process titles: under the emperor `ps` shows "vassal app master" and "vassal app worker N"
# (comm "app master", "app worker N"), the emperor "emperor CONF"; the environment stays
# readable (EMPEROR_VASSAL=, which adoption reads) and an emperor started anew adopts the
# titled vassal; a re-executing reload keeps the title. Standalone: no title unless asked;
# procname-master, -prefix-spaced, -append; auto-procname = false under the emperor.
. "$(dirname "$0")/lib.sh"

args_of() { ps -o args= -p "$1" | sed 's/ *$//'; }
comm_of() { cat "/proc/$1/comm"; }
workers_of() { pgrep -P "$1" | sort -n; }

start_emperor
P=$(free_port)
make_ini app $P "processes = 2"
wait_until 20 state_is app running || fail "app did not start"
m=$(vassal_field app pid)
assert_eq "$(args_of "$m")" "vassal app master" "the master's title"
assert_eq "$(comm_of "$m")" "app master" "the master's comm"
wait_until 10 bash -c "[ \$(pgrep -P $m | wc -l) -ge 2 ]" || fail "no workers"
k=0
for w in $(workers_of "$m"); do
        k=$((k + 1))
        case "$(args_of "$w")" in
        "vassal app worker "[12]) ok "worker $w: $(args_of "$w")" ;;
        *) fail "worker $w's title: '$(args_of "$w")'" ;;
        esac
        case "$(comm_of "$w")" in
        "app worker "[12]) ok "worker $w's comm: $(comm_of "$w")" ;;
        *) fail "worker $w's comm: '$(comm_of "$w")'" ;;
        esac
done
[ "$k" = 2 ] || fail "expected 2 workers, found $k"
assert_eq "$(args_of "$emperor_pid")" "emperor $CONF" "the emperor's title"
assert_eq "$(comm_of "$emperor_pid")" "emperor" "the emperor's comm"

# The environment is intact: the title never spills into it.
env_of() { tr '\0' '\n' <"/proc/$1/environ"; }
assert_contains "$(env_of "$m")" "EMPEROR_VASSAL=app" "EMPEROR_VASSAL= still in the master's environ"
assert_contains "$(env_of "$m")" "NOTIFY_SOCKET=$RUN/notify.sock" "NOTIFY_SOCKET= too"
assert_eq "$(tr -d '\0' <"/proc/$m/cmdline")" "vassal app master" "cmdline holds the title and NULs only"

# A reload that re-executes the vassal (chain-reload) reads its saved arguments: same title.
capture ctl chain-reload app --wait --timeout 60
expect 0 "chain-reload"
assert_eq "$(args_of "$m")" "vassal app master" "the title after the re-execution"
assert_eq "$(curl -s -m 5 http://127.0.0.1:$P/)" "Hello World" "serving after it"

# A new emperor adopts the titled vassal (it reads EMPEROR_VASSAL= from its environ).
kill -KILL "$emperor_pid"
wait "$emperor_pid" 2>/dev/null
start_emperor
wait_until 20 grep -q "adopted" "$T/emperor.log" || fail "the vassal was not adopted"
assert_eq "$(vassal_field app pid)" "$m" "the same master is adopted"
assert_eq "$(vassal_field app state)" "running" "running"

# auto-procname = false under the emperor: the command line as spawned.
make_ini off $(free_port) "auto-procname = false"
wait_until 20 state_is off running || fail "off did not start"
assert_eq "$(args_of "$(vassal_field off pid)")" "vassal $CONF/off.ini" "auto-procname = false: no title"

# Standalone: no title by default; the uWSGI options when given.
SP=$(free_port)
start_vassal plain --http-socket 127.0.0.1:$SP --wsgi-file "$APPS/testapp.py"
wait_ready plain http://127.0.0.1:$SP/
assert_eq "$(args_of "$plain_pid")" "$VASSAL --http-socket 127.0.0.1:$SP --wsgi-file $APPS/testapp.py" "standalone: no title by default"
stop_pid "$plain_pid"

SP=$(free_port)
printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s/testapp.py\nprocesses = 1\nprocname-master = boss\nprocname-prefix-spaced = [prod]\nprocname-append = " (v2)"\n' $SP "$APPS" >"$T/titled.ini"
start_vassal titled "$T/titled.ini"
wait_ready titled http://127.0.0.1:$SP/
assert_eq "$(args_of "$titled_pid")" '[prod] boss (v2)' "procname-master with prefix-spaced and append"
w=$(pgrep -P "$titled_pid" | head -1)
assert_contains "$(args_of "$w")" "[prod] vassal titled worker 1" "the worker keeps the automatic base name"
stop_pid "$titled_pid"

SP=$(free_port)
start_vassal auto --http-socket 127.0.0.1:$SP --wsgi-file "$APPS/testapp.py" --auto-procname --procname-prefix x-
wait_ready auto http://127.0.0.1:$SP/
assert_contains "$(args_of "$auto_pid")" "x-vassal " "--auto-procname standalone, with a prefix"
stop_pid "$auto_pid"
