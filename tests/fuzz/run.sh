#!/usr/bin/env bash
# Runs each libFuzzer target given for SECONDS, one after the other, and fails on any finding.
#   tests/fuzz/run.sh SECONDS BIN...
# A target build/fuzz/fuzz-X starts from tests/fuzz/corpus/fuzz-X/ when that exists. The corpus
# is copied to a temporary directory first, so what the run discovers never grows the repository.
# Artifacts (crash-*, leak-*, timeout-*, oom-*) and the log of a failed target are kept in that
# temporary directory, whose path is printed; a clean run removes it.
set -u

usage() {
        echo "usage: $0 SECONDS BIN..." >&2
        exit 2
}

[ $# -ge 2 ] || usage
seconds=$1
shift
case $seconds in
        '' | *[!0-9]* | 0) usage ;;
esac

corpus_root=$(cd "$(dirname "$0")" && pwd)/corpus
passed=0 failed=0
tmp=

# On Ctrl-C, remove the directory of the target being run rather than leave it behind.
trap '[ -n "$tmp" ] && rm -rf "$tmp"; exit 130' INT TERM

for bin in "$@"; do
        name=${bin##*/}
        if [ ! -x "$bin" ]; then
                echo "FAIL $name: '$bin' is not an executable (build it first)"
                failed=$((failed + 1))
                continue
        fi

        tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
        mkdir "$tmp/corpus"
        seeds=0
        if [ -d "$corpus_root/$name" ]; then
                cp -R "$corpus_root/$name/." "$tmp/corpus/"
                seeds=$(find "$tmp/corpus" -type f | wc -l)
        fi

        # -timeout turns a hang into a finding well within a long run.
        "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=8192 -timeout=25 \
                -artifact_prefix="$tmp/" -print_final_stats=1 "$tmp/corpus" >"$tmp/log" 2>&1
        rc=$?

        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log" | tail -n 1)
        grown=$(find "$tmp/corpus" -type f | wc -l)
        artifacts=$(cd "$tmp" && ls -d crash-* leak-* timeout-* oom-* 2>/dev/null | paste -sd ' ')

        if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
                echo "PASS $name: ${execs:-?} execs in ${seconds}s, corpus $seeds -> $grown"
                passed=$((passed + 1))
                rm -rf "$tmp"
        else
                echo "FAIL $name: exit $rc, ${execs:-?} execs; artifacts: ${artifacts:-none}; kept in $tmp"
                tail -n 40 "$tmp/log" | sed 's/^/    /'
                failed=$((failed + 1))
        fi
        tmp=
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
