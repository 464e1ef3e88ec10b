#!/usr/bin/env bash
# ansible-test needs the collection under ansible_collections/NAMESPACE/NAME as a real
# directory, so copy the checkout there (without venv, state and outputs) and test the copy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Outside the checkout: inside it, ansible-test would list files through git and find none.
dest="${SANITY_BUILD_DIR:-${TMPDIR:-/tmp}/dbops-aurora-sanity}/ansible_collections/dbops/aurora"
rm -rf "$dest"
mkdir -p "$dest"
tar -C "$root" -c --exclude=./.venv --exclude=./.state --exclude=./.collections \
    --exclude=./build --exclude=./tests/output --exclude=./.git --exclude=__pycache__ \
    --exclude=./.pytest_cache --exclude=./.cache --exclude=./.ansible --exclude=./bench/results . | tar -C "$dest" -x
# The import test resolves dependencies (amazon.aws, ...) beside the collection under test.
site="$("$root/.venv/bin/python" -c 'import ansible, os; print(os.path.join(os.path.dirname(os.path.dirname(ansible.__file__)), "ansible_collections"))')"
for namespace in amazon community; do
    ln -sfn "$site/$namespace" "$(dirname "$(dirname "$dest")")/$namespace"
done
cd "$dest"
"$root/.venv/bin/ansible-test" sanity --python 3.11 --color no "$@"
