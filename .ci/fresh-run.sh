#!/usr/bin/env bash
# Inside the fresh root: the README's first command, `make deps run`, as a user types it; then
# the two example apps of conf.d/ must answer (hello on :8080, Flask on :8081) and the emperor
# must stop cleanly on SIGTERM.
set -euo pipefail
cd /src
log=/tmp/make-run.log
make deps run >"$log" 2>&1 &
make_pid=$!

fail() {
        echo "fresh-run: $*" >&2
        tail -n 40 "$log" >&2
        [ -z "${emperor:-}" ] || kill -TERM "$emperor" 2>/dev/null || true
        kill -TERM "$make_pid" 2>/dev/null || true
        exit 1
}

# `make deps` installs and builds first: allow it minutes, then each app seconds.
for port in 8080 8081; do
        t0=$SECONDS
        until body=$(curl -sf --max-time 2 "http://127.0.0.1:$port/"); do
                kill -0 "$make_pid" 2>/dev/null || fail "make deps run exited before :$port answered"
                [ $((SECONDS - t0)) -lt 600 ] || fail "nothing answered on :$port within 600 s"
                sleep 0.2
        done
        echo "fresh-run: :$port answered after $((SECONDS - t0)) s: ${body:0:60}"
done
curl -sf http://127.0.0.1:8080/ | grep -q 'Hello' || fail "the hello app's page is not its own"
curl -sf http://127.0.0.1:8081/ >/dev/null || fail "the Flask app did not answer 200"

# The emperor is make's child; we end it (by pid) and make must then finish.
emperor=$(ps -o pid= --ppid "$make_pid" | tr -d ' ' | head -n 1)
[ -n "$emperor" ] || fail "no emperor under make"
[ "$(cat /proc/"$emperor"/comm)" = emperor ] || fail "make's child is $(cat /proc/"$emperor"/comm), not the emperor"
kill -TERM "$emperor"
wait "$make_pid" || fail "make deps run ended with status $? after SIGTERM"
if curl -s --max-time 2 -o /dev/null http://127.0.0.1:8080/; then
        fail "the hello app still answers after the emperor stopped"
fi
echo "fresh-run: make deps run served both apps and stopped cleanly"
