#!/usr/bin/env bash
# Runs every integration scenario (tests/integration/test-*.sh, or those named), each in its
# own bash with a deadline, and prints "integration: N passed, N failed".
set -u
cd "$(dirname "$0")"
passed=0 failed=0 failures=()
scripts=("$@")
[ ${#scripts[@]} -eq 0 ] && scripts=(test-*.sh)
for t in "${scripts[@]}"; do
        echo "== ${t##*/}"
        start=$SECONDS
        if timeout -k 10 300 bash "$t"; then
                passed=$((passed + 1))
                echo "   passed in $((SECONDS - start)) s"
        else
                failed=$((failed + 1))
                failures+=("$t")
                echo "   FAILED in $((SECONDS - start)) s"
        fi
done
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
