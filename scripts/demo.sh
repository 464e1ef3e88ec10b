#!/usr/bin/env bash
# make demo: bring the local AWS stand-in up, provision production (with sample personal data)
# and acceptance, share a production snapshot, run the main job, print what it did.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${1:-$root/.state/emulator}"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.collections" ANSIBLE_CONFIG="$root/ansible.cfg"
report="$root/.state/refresh-report.json"

if tests/emulator/aws-emulator status --state-dir "$state" >/dev/null 2>&1; then
    echo "==> the emulator already runs (state in $state)"
else
    echo "==> starting the local AWS stand-in"
    tests/emulator/aws-emulator up --state-dir "$state" >/dev/null
fi
# shellcheck disable=SC1091
source "$state/env.sh"

step() { printf '\n==> %s\n' "$*"; }
step "provision production (app-prod, sample data) and acceptance (app-acceptance)"
ansible-playbook playbooks/provision.yml -i inventories/local
step "production: snapshot app-prod and share it with acceptance"
ansible-playbook playbooks/share_snapshot.yml -i inventories/local
step "the main job: ansible-playbook playbooks/refresh_acceptance.yml -i inventories/local"
ansible-playbook playbooks/refresh_acceptance.yml -i inventories/local -e "refresh_report_path=$report"

python scripts/demo_summary.py "$report"
cat <<EOT

The stand-in keeps running so you can look around:
    source $state/env.sh
    aws rds describe-db-clusters --profile acceptance   (with the AWS CLI), or any playbook: ansible-playbook playbooks/pin_snapshot.yml -i inventories/local ...
Stop it with:  make emulator-down
EOT
