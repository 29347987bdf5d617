#!/usr/bin/env bash
# Runs every cmocka unit-test binary given, and prints one summary line at the end.
set -u
passed=0 failed=0
for t in "$@"; do
        echo "== ${t##*/}"
        if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
