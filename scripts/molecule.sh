#!/usr/bin/env bash
# Run every molecule scenario under extensions/molecule against the local AWS stand-in.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scenarios=$(find "$root/extensions/molecule" -mindepth 2 -maxdepth 2 -name molecule.yml 2>/dev/null | sort || true)
if [ -z "$scenarios" ]; then
    echo "no molecule scenarios yet"
    exit 0
fi
cd "$root/extensions"
for file in $scenarios; do
    name="$(basename "$(dirname "$file")")"
    [ "$name" = "default" ] && [ -n "${SKIP_DEFAULT:-}" ] && continue
    echo "==> molecule test -s $name"
    start=$(date +%s)
    "$root/.venv/bin/molecule" test -s "$name"
    echo "==> scenario $name passed in $(( $(date +%s) - start ))s"
done
