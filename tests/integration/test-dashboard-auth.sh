# --http-auth: the dashboard, API and /metrics need a login (session cookie, or Basic for
# scripts); POSTs need the session's CSRF token too. Without auth a non-loopback --http is
# refused unless --http-insecure.
. "$(dirname "$0")/lib.sh"

# A hash as crypt(3) makes it: mkpasswd (whois) when there, else Python's crypt module.
if command -v mkpasswd >/dev/null; then
        HASH=$(printf 'sekret' | mkpasswd -m sha512crypt --stdin)
else
        HASH=$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("sekret", crypt.mksalt(crypt.METHOD_SHA512)))')
fi
printf '# dashboard users\nadmin:%s\n' "$HASH" >"$T/users"
chmod 0600 "$T/users" # root's alone: emperor-web reads it before it drops to nobody
HP=$(free_port)
start_emperor --http 127.0.0.1:$HP --http-auth "$T/users"
P=$(free_port)
make_ini app $P
wait_until 15 bash -c "'$CTL' --run-dir '$RUN' status | grep -q running" || fail "app not running"
B=http://127.0.0.1:$HP

assert_eq "$(status_of $B/api/vassals)" "401" "the API without login: 401"
assert_eq "$(status_of $B/metrics)" "401" "/metrics without login: 401"
assert_contains "$(curl -si $B/metrics | tr -d '\r')" "WWW-Authenticate: Basic" "/metrics asks for Basic credentials"
assert_eq "$(status_of -u admin:sekret $B/metrics)" "200" "/metrics with Basic credentials: 200"
assert_eq "$(status_of -u admin:wrong $B/metrics)" "401" "wrong Basic credentials: 401"
assert_eq "$(status_of $B/)" "200" "the page itself loads (it shows the login form)"
assert_eq "$(status_of -X POST -H "Origin: $B" -H 'Content-Type: application/json' \
        -d '{"user":"admin","password":"nope"}' $B/login)" "403" "a wrong password: 403"
assert_eq "$(status_of -X POST -H "Origin: $B" $B/api/vassals/app/stop)" "401" "an action without login: 401"
curl -s -D "$T/login.h" -o /dev/null -X POST -H "Origin: $B" -H 'Content-Type: application/json' \
        -d '{"user":"admin","password":"sekret"}' $B/login
cookie=$(tr -d '\r' <"$T/login.h" | sed -n 's/^Set-Cookie: \(emperor_session=[0-9a-f]*\);.*/\1/p')
[ -n "$cookie" ] || fail "no session cookie: $(cat "$T/login.h")"
assert_contains "$(tr -d '\r' <"$T/login.h")" "HttpOnly; SameSite=Strict" "the cookie is HttpOnly, SameSite=Strict"
assert_eq "$(status_of -b "$cookie" $B/api/vassals)" "200" "the API with the session: 200"
csrf=$(curl -s -b "$cookie" $B/api/session | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
[ ${#csrf} = 64 ] || fail "no CSRF token in the session: '$csrf'"
assert_eq "$(status_of -b "$cookie" -X POST -H "Origin: $B" $B/api/vassals/app/stop)" "403" "logged in, without the CSRF token: 403"
assert_eq "$(status_of -X POST -H "Origin: $B" -H "X-CSRF-Token: $csrf" $B/api/vassals/app/stop)" "401" "the token without the cookie: 401"
sleep 1
assert_eq "$(vassal_field app state)" "running" "nothing refused changed anything"
assert_eq "$(status_of -b "$cookie" -X POST -H "Origin: $B" -H "X-CSRF-Token: $csrf" $B/api/vassals/app/stop)" "200" "logged in with the token: the stop is done"
wait_until 15 state_is app stopped || fail "app did not stop"
ok "app stopped"
assert_eq "$(status_of -b "$cookie" -X POST -H "Origin: $B" $B/logout)" "200" "logout"
# The same in a browser (when there is one).
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$TOP/node_modules/playwright-core" ]; then
        ( cd "$TOP" && node tests/browser/login.mjs "$B" admin sekret "$BUILD/browser" ) ||
                fail "the browser's login"
fi
assert_eq "$(status_of -b "$cookie" $B/api/vassals)" "401" "the session is gone after logout"
stop_pid "$emperor_pid"

# A non-loopback address: refused without auth, served with --http-insecure.
HP=$(free_port)
out=$(timeout 10 "$EMPEROR" --run-dir "$T/run2" --state-dir "$T/state2" --http 0.0.0.0:$HP "$CONF" 2>&1); rc=$?
[ "$rc" != 0 ] || fail "a non-loopback --http without auth was accepted"
assert_contains "$out" "--http-auth" "a non-loopback --http without auth is refused, saying why"
mkdir -p "$T/run3"
"$EMPEROR" --run-dir "$T/run3" --state-dir "$T/state3" --http 0.0.0.0:$HP --http-insecure "$CONF" >"$T/emperor3.log" 2>&1 &
PIDS+=($!)
wait_until 10 http_ok "http://127.0.0.1:$HP/api/vassals" || fail "--http-insecure does not serve"
ok "--http-insecure serves 0.0.0.0"
