#!/usr/bin/env bash
# Everything the tests and the demo need, from a fresh Debian machine; each step is skipped
# when it is already done.  Usage: scripts/setup.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
venv="$root/.venv"

log() { printf '==> %s\n' "$*"; }

# Debian packages: the PostgreSQL server (the emulator runs a real one behind every Aurora
# cluster) and shellcheck (without it ansible-test silently skips its shellcheck test).
missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    missing+=(postgresql)
fi
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
else
    log "Debian packages present: postgresql, shellcheck"
fi

# Python virtual environment, reinstalled only when requirements.txt changes.
stamp="$venv/.requirements.sha256"
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "creating the virtual environment in .venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip wheel
    "$venv/bin/pip" install -q -r requirements.txt
    echo "$want" > "$stamp"
else
    log "virtual environment up to date"
fi

# ansible-test bootstraps pip in its sanity venvs with a script from a host these machines
# cannot reach; give it a cached one: a small runner around the pip wheel from PyPI.
pip_version="$("$venv/bin/python" - <<'PY'
import re, ansible_test, os
path = os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")
print(re.search(r"pip='([0-9.]+)'", open(path).read()).group(1))
PY
)"
cache="$HOME/.ansible/test/cache"
script="$cache/get_pip_${pip_version//./_}.py"
wheel="$cache/pip-${pip_version}-py3-none-any.whl"
if [ ! -f "$script" ] || [ ! -f "$wheel" ]; then
    log "seeding ansible-test's pip $pip_version bootstrap cache"
    mkdir -p "$cache"
    "$venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$cache" "pip==$pip_version"
    cat > "$script" <<PY
"""Stand-in for get-pip.py: install pip from the wheel next to this file."""
import os
import sys

wheel = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-${pip_version}-py3-none-any.whl")
sys.path.insert(0, wheel)
from pip._internal.cli.main import main  # noqa: E402

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--no-cache-dir", "--upgrade", "--force-reinstall", wheel] + [a for a in args if not a.startswith("pip==")]))
PY
else
    log "ansible-test pip bootstrap cache present"
fi
log "setup done"
