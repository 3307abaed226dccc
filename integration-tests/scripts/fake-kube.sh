#!/bin/sh
# Test double for oc / kubectl, used by integration-tests/scripts/main.rs (never by a trainer).
#
# Records every call as one line "<name> <args...>" in $FAKE_LOG; a call made from another directory
# than $FAKE_ROOT is recorded as "cd <dir relative to FAKE_ROOT> && <name> <args...>".
# Like the real CLI, "-f FILE" and "--patch-file FILE" fail when FILE does not exist (relative to the
# current directory), so a script naming a file the repository lacks fails its test. "-f -" copies
# stdin to $FAKE_STDIN.
#
# Replies come from $FAKE_SCENARIO, one rule a line, first match wins:
#     <exit>|<glob matched against "<name> <args...>">|<output, with \n for newlines>
# The output goes to stdout when the exit status is 0 and to stderr otherwise, as the real CLI prints its
# errors (`Error from server (NotFound): ...`). An exit field ending in "!" makes the rule single-use
# (later calls fall through to the next rules). Every reply a test uses must be one the real oc gives.
# No matching rule: exit 0, no output. Lines starting with # are comments.
set -eu
name=${FAKE_NAME:-${0##*/}}
call="$name $*"

here=$(pwd)
case $here in
    "$FAKE_ROOT") printf '%s\n' "$call" >>"$FAKE_LOG" ;;
    "$FAKE_ROOT"/*) printf 'cd %s && %s\n' "${here#"$FAKE_ROOT"/}" "$call" >>"$FAKE_LOG" ;;
    *) printf 'cd %s && %s\n' "$here" "$call" >>"$FAKE_LOG" ;;
esac

prev=
for a in "$@"; do
    case $prev in
        -f | --filename | --patch-file)
            if [ "$a" = - ]; then
                cat >>"$FAKE_STDIN"
            elif [ ! -e "$a" ]; then
                printf 'error: the path "%s" does not exist\n' "$a" >&2
                exit 1
            fi
            ;;
    esac
    prev=$a
done

[ -f "${FAKE_SCENARIO:-}" ] || exit 0
n=0
while IFS='|' read -r code glob out; do
    n=$((n + 1))
    case $code in '' | '#'*) continue ;; esac
    # shellcheck disable=SC2254 # the scenario's glob is a pattern on purpose
    case $call in
        $glob) ;;
        *) continue ;;
    esac
    case $code in
        *!)
            if grep -qx "$n" "$FAKE_SCENARIO.used" 2>/dev/null; then
                continue
            fi
            printf '%s\n' "$n" >>"$FAKE_SCENARIO.used"
            code=${code%!}
            ;;
    esac
    if [ -n "$out" ] && [ "$code" = 0 ]; then
        printf '%b\n' "$out"
    elif [ -n "$out" ]; then
        printf '%b\n' "$out" >&2
    fi
    exit "$code"
done <"$FAKE_SCENARIO"
exit 0
