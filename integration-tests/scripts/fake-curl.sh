#!/bin/sh
# Test double for curl, used by integration-tests/scripts/main.rs: no network.
# Records each call's arguments as one line in $FAKE_CURL_LOG and answers with the next line of
# $FAKE_CURL_BODIES (the last line repeats once the others are used up).
set -eu
printf '%s\n' "$*" >>"$FAKE_CURL_LOG"
count_file="$FAKE_CURL_BODIES.n"
n=$(cat "$count_file" 2>/dev/null || echo 0)
n=$((n + 1))
printf '%s\n' "$n" >"$count_file"
total=$(grep -c '' "$FAKE_CURL_BODIES") || total=0
[ "$total" -gt 0 ] || exit 0
[ "$n" -le "$total" ] || n=$total
sed -n "${n}p" "$FAKE_CURL_BODIES"
