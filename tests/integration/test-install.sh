# `make install` gives a working system: into a DESTDIR with PREFIX=/usr it lays out the
# programs, man pages, the systemd unit with real paths, the dashboard user's sysusers.d entry
# and an empty conf dir; the staged emperor, started on the staged conf dir, serves a vassal it
# runs from the staged bin/; installed under another PREFIX the unit follows it and passes
# systemd-analyze verify; `make uninstall` removes everything but the conf dir's contents.
. "$(dirname "$0")/lib.sh"

D=$T/dest
# `make asan` passes SANITIZE down in MAKEFLAGS, so this make sees the build it tests.
make -C "$TOP" --no-print-directory BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr install \
        >"$T/install.log" 2>&1 || fail "make install failed"
for f in usr/bin/vassal usr/bin/emperorctl usr/sbin/emperor; do
        [ -x "$D/$f" ] || fail "$f is not installed"
done
for f in usr/share/man/man8/emperor.8 usr/share/man/man8/vassal.8 usr/share/man/man1/emperorctl.1 \
        usr/lib/sysusers.d/emperor.conf usr/lib/systemd/system/emperor.service; do
        [ -f "$D/$f" ] || fail "$f is not installed"
done
[ -d "$D/etc/apps.d" ] || fail "the conf dir /etc/apps.d was not made"
[ -z "$(ls -A "$D/etc/apps.d")" ] || fail "the conf dir is not empty"
ok "programs, man pages, unit, sysusers.d entry and an empty /etc/apps.d"

unit=$D/usr/lib/systemd/system/emperor.service
assert_file_contains "$unit" \
        "ExecStart=/usr/sbin/emperor --run-dir /run/emperor --state-dir /var/lib/emperor /etc/apps.d" \
        "the unit runs the installed emperor on /etc/apps.d"
grep -Eq '^u +emperor ' "$D/usr/lib/sysusers.d/emperor.conf" || fail "no emperor user in sysusers.d"

# The staged emperor finds the staged vassal (../bin/vassal) and serves from the staged conf dir.
EMPEROR="$D/usr/sbin/emperor" CONF="$D/etc/apps.d" RUN="$T/run" CTL="$D/usr/bin/emperorctl"
start_emperor
P=$(free_port)
make_ini hello "$P"
wait_until 15 http_ok "http://127.0.0.1:$P/" || fail "the installed emperor did not serve the vassal"
master=$(vassal_field hello pid)
assert_eq "$(readlink "/proc/$master/exe")" "$D/usr/bin/vassal" "the vassal is the installed one"
ok "the installed emperor serves a vassal from the installed conf dir"
stop_pid "$emperor_pid"

# Another PREFIX, installed for real (no DESTDIR): every path in the unit follows it, and
# systemd accepts the unit as installed (its programs exist, its man pages are found).
p=$T/prefix
make -C "$TOP" --no-print-directory BUILD="$BUILD" PREFIX="$p" CONFDIR="$p/etc/apps.d" install \
        >>"$T/install.log" 2>&1 || fail "make install PREFIX=$p failed"
assert_file_contains "$p/lib/systemd/system/emperor.service" \
        "ExecStart=$p/sbin/emperor --run-dir /run/emperor --state-dir /var/lib/emperor $p/etc/apps.d" \
        "the unit follows PREFIX and CONFDIR"
MANPATH=$p/share/man systemd-analyze verify "$p/lib/systemd/system/emperor.service" \
        >"$T/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify.log")"
ok "systemd-analyze verify accepts the installed unit"

make -C "$TOP" --no-print-directory BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr uninstall \
        >>"$T/install.log" 2>&1 || fail "make uninstall failed"
left=$(cd "$D" && find . -type f | sort | tr '\n' ' ')
assert_eq "$left" "./etc/apps.d/hello.ini " "uninstall leaves only the user's conf dir"
ok "make uninstall removes what install put there"
