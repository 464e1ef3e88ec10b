#!/usr/bin/env bash
# Run every molecule scenario under extensions/molecule against the local AWS stand-in, a few at
# a time.  Each scenario starts its own emulator on its own port, in its own molecule ephemeral
# directory, so scenarios do not share state and can run side by side.
#
#   MOLECULE_JOBS=N            scenarios run at once (default: cores + 1; 1 = one after the other)
#   MOLECULE_SCENARIOS="a b"   run only these scenarios (default: every directory with a molecule.yml)
#   MOLECULE_EXCLUDE="a b"     skip these scenarios
#   MOLECULE_LOG_DIR=DIR       where each scenario's output goes (default tests/output/molecule)
#
# Prints one line per scenario (passed/FAILED and its time), the tail of each failed scenario's
# log, and exits non-zero when any scenario failed.  Scenarios that took longest in the previous
# run start first (DIR/durations), so the slowest one does not start last.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One more than the cores: a scenario spends part of its time waiting on its stand-in.
jobs_max="${MOLECULE_JOBS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}"
log_dir="${MOLECULE_LOG_DIR:-$root/tests/output/molecule}"
molecule="$root/.venv/bin/molecule"
# Without history, start the scenarios known to be slow first.
slow_first="refresh refresh_slow faults crash iam awx provision preflight network"

case "$jobs_max" in
    '' | *[!0-9]* | 0) echo "MOLECULE_JOBS must be a positive integer, not '$jobs_max'" >&2; exit 2 ;;
esac

listed() { # listed NAME "LIST": is NAME a word of LIST?
    case " $2 " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}

all=()
while IFS= read -r file; do
    name="$(basename "$(dirname "$file")")"
    [ "$name" = shared ] && continue
    all+=("$name")
done < <(find "$root/extensions/molecule" -mindepth 2 -maxdepth 2 -name molecule.yml 2>/dev/null | sort)
for want in ${MOLECULE_SCENARIOS:-} ${MOLECULE_EXCLUDE:-}; do
    listed "$want" "${all[*]}" || { echo "no scenario '$want' in extensions/molecule" >&2; exit 2; }
done

names=()
for name in "${all[@]}"; do
    [ "$name" = default ] && [ -n "${SKIP_DEFAULT:-}" ] && continue
    [ -n "${MOLECULE_SCENARIOS:-}" ] && ! listed "$name" "$MOLECULE_SCENARIOS" && continue
    listed "$name" "${MOLECULE_EXCLUDE:-}" && continue
    names+=("$name")
done
if [ "${#names[@]}" -eq 0 ]; then
    echo "no molecule scenarios to run"
    exit 0
fi

# ansible-lint installs a copy of this collection into ~/.ansible/collections, which molecule
# searches before the checkout: a copy left from an older lint run would shadow today's code.
home_copy="$HOME/.ansible/collections/ansible_collections/dbops/aurora"
if [ -d "$home_copy" ] && [ ! -L "$home_copy" ]; then
    rm -rf "$home_copy"
fi

mkdir -p "$log_dir"
durations="$log_dir/durations"
# Order: longest previous run first; then the known slow ones; then the rest by name.
order=()
while IFS= read -r line; do
    order+=("${line##* }")
done < <(
    for name in "${names[@]}"; do
        seconds="$(awk -v n="$name" '$1 == n { s = $2 } END { print s + 0 }' "$durations" 2>/dev/null || echo 0)"
        rank=0
        for slow in $slow_first; do
            rank=$((rank + 1))
            [ "$slow" = "$name" ] && break
        done
        listed "$name" "$slow_first" || rank=99
        printf '%08d %02d %s\n' "$((99999999 - seconds))" "$rank" "$name"
    done | sort
)

cd "$root/extensions"
declare -A pid_of=() start_of=()
failed=()
results=()
tier_start=$(date +%s)

stop_all() {
    local name
    trap - INT TERM
    set +m
    echo "molecule.sh: interrupted; stopping ${!pid_of[*]}" >&2
    # Each scenario runs in its own process group (set -m below): stop molecule and its
    # ansible-playbook children, then run the scenario's cleanup to stop its emulator.
    for name in "${!pid_of[@]}"; do
        kill -TERM -- "-${pid_of[$name]}" 2>/dev/null || true
    done
    for name in "${!pid_of[@]}"; do
        wait "${pid_of[$name]}" 2>/dev/null || true
        NO_COLOR=1 ANSIBLE_NOCOLOR=1 "$molecule" cleanup -s "$name" </dev/null >>"$log_dir/$name.log" 2>&1 || true
    done
    echo "molecule.sh: logs in $log_dir" >&2
    exit 130
}
trap stop_all INT TERM

start() {
    local name="$1"
    start_of[$name]=$(date +%s)
    echo "==> start  $name (log: ${log_dir#"$root"/}/$name.log)"
    NO_COLOR=1 ANSIBLE_NOCOLOR=1 "$molecule" test -s "$name" </dev/null >"$log_dir/$name.log" 2>&1 &
    pid_of[$name]=$!
}

finish() { # finish NAME RC
    local name="$1" rc="$2" took
    took=$(($(date +%s) - start_of[$name]))
    unset "pid_of[$name]"
    results+=("$name $took")
    if [ "$rc" -eq 0 ]; then
        echo "==> passed $name in ${took}s"
    else
        echo "==> FAILED $name in ${took}s (exit $rc); log: $log_dir/$name.log"
        failed+=("$name")
    fi
}

reap() { # wait for one scenario to end and record it
    local done_pid="" rc=0 name
    wait -n -p done_pid || rc=$?
    for name in "${!pid_of[@]}"; do
        [ "${pid_of[$name]}" = "$done_pid" ] && finish "$name" "$rc"
    done
    return 0
}

# Own process group per scenario, so an interrupt can stop each one with its children.
set -m
echo "==> molecule: ${#order[@]} scenario(s), $jobs_max at a time: ${order[*]}"
for name in "${order[@]}"; do
    while [ "${#pid_of[@]}" -ge "$jobs_max" ]; do
        reap
    done
    start "$name"
done
while [ "${#pid_of[@]}" -gt 0 ]; do
    reap
done
set +m

# Keep the other scenarios' times when only some ran.
{
    printf '%s\n' "${results[@]}"
    awk -v ran=" ${order[*]} " 'index(ran, " " $1 " ") == 0' "$durations" 2>/dev/null || true
} >"$durations.new"
mv "$durations.new" "$durations"
for name in "${failed[@]}"; do
    echo
    echo "==> last 60 lines of $log_dir/$name.log"
    tail -n 60 "$log_dir/$name.log"
done
echo "==> molecule: $((${#order[@]} - ${#failed[@]})) passed, ${#failed[@]} failed in $(($(date +%s) - tier_start))s"
[ "${#failed[@]}" -eq 0 ]
