#!/usr/bin/env bash
# The three tiers that need no scenario stand-in of their own, side by side: pytest, ansible-test
# sanity and ansible-lint.  Each alone keeps one core busy (sanity and lint are single
# processes, pytest mostly waits on its stand-in), so together they take the time of the
# longest instead of the sum.  Each one's output goes to tests/output/checks/<tier>.log and is
# printed when all three are done; the exit status is non-zero when any failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log_dir="${CHECKS_LOG_DIR:-$root/tests/output/checks}"
mkdir -p "$log_dir"
cd "$root" || exit 1

declare -A pid_of=() start_of=()
run() { # run NAME COMMAND...
    local name="$1"
    shift
    start_of[$name]=$(date +%s)
    "$@" >"$log_dir/$name.log" 2>&1 &
    pid_of[$name]=$!
}

run units make --no-print-directory units
run sanity make --no-print-directory sanity
run lint make --no-print-directory lint

failed=()
while [ "${#pid_of[@]}" -gt 0 ]; do
    # Whichever ends first is reported first, with its own time.
    done_pid="" rc=0
    wait -n -p done_pid || rc=$?
    for name in "${!pid_of[@]}"; do
        [ "${pid_of[$name]}" = "$done_pid" ] || continue
        unset "pid_of[$name]"
        break
    done
    if [ "$rc" -eq 0 ]; then
        status=passed
    else
        status=FAILED
        failed+=("$name")
    fi
    took=$(($(date +%s) - start_of[$name]))
    echo
    echo "==> $status $name in ${took}s (log: ${log_dir#"$root"/}/$name.log)"
    if [ "$status" = FAILED ]; then
        tail -n 80 "$log_dir/$name.log"
    else
        tail -n 3 "$log_dir/$name.log"
    fi
done
[ "${#failed[@]}" -eq 0 ]
