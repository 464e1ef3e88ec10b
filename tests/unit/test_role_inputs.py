"""The bad-input matrix over every role entry point: each bad value fails with a message that
names the field, before any change.

One ansible-playbook run holds every case as a block of its own (the rescue records what
failed and why), against the emulator; the emulator's call log then shows that no call other
than a read reached AWS.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

BIN = os.path.dirname(sys.executable)
SECRET = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:app/t/creds-AbCdEf"
SNAPSHOT = "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-t-20261201"

# role, entry point: the variables a valid call needs.
VALID = {
    ("network", "main"): {"network_name": "inputs-net", "network_environment": "acceptance"},
    ("bastion", "main"): {"bastion_name": "inputs-bastion", "bastion_environment": "acceptance",
                          "bastion_subnet_id": "subnet-0123456789abcdef0",
                          "bastion_security_group_id": "sg-0123456789abcdef0",
                          "bastion_secret_arn": SECRET},
    ("cluster", "main"): {"cluster_identifier": "inputs-cluster", "cluster_master_secret_arn": SECRET},
    ("secret", "main"): {"secret_name": "inputs/creds"},
    ("schema", "main"): {"schema_secret_arn": SECRET, "schema_database": "app"},
    ("snapshot_share", "main"): {"snapshot_share_cluster_identifier": "inputs-prod",
                                 "snapshot_share_account_ids": ["222222222222"]},
    ("refresh", "main"): {},
    ("refresh", "update_latest"): {"refresh_source_account_id": "111111111111",
                                   "refresh_source_cluster_identifier": "inputs-prod",
                                   "refresh_canonical_identifier": "inputs-acc"},
    ("refresh", "restore_current"): {"refresh_canonical_identifier": "inputs-acc",
                                     "refresh_source_account_id": "111111111111",
                                     "refresh_force": True},
    ("refresh", "pin"): {"refresh_pin_snapshot": SNAPSHOT},
    ("refresh", "unpin"): {},
    ("refresh", "rollback"): {"refresh_canonical_identifier": "inputs-acc"},
    ("migrate", "main"): {"migrate_target_secret_arn": SECRET, "migrate_source_secret_arn": SECRET},
}

# (role, entry point, the bad variables, the field the message must name)
CASES = [
    ("network", "main", {"network_cidr": "10.0.0.0/33"}, "network_cidr"),
    ("network", "main", {"network_az_count": "two"}, "network_az_count"),
    ("network", "main", {"network_state": "gone"}, "network_state"),
    ("network", "main", {"network_name": "Upper-Case"}, "network_name"),
    ("network", "main", {"network_db_allowed_cidrs": ["10.0.0.1/8"]}, "network_db_allowed_cidrs"),
    ("bastion", "main", {"bastion_wait_timeout": "soon"}, "bastion_wait_timeout"),
    ("bastion", "main", {"bastion_state": "gone"}, "bastion_state"),
    ("bastion", "main", {"bastion_secret_arn": "not-an-arn"}, "bastion_secret_arn"),
    ("bastion", "main", {"bastion_transfer_principal_arns": ["*"]}, "bastion_transfer_principal_arns"),
    ("cluster", "main", {"cluster_identifier": "1bad--name"}, "cluster_identifier"),
    ("cluster", "main", {"cluster_instance_count": "many"}, "cluster_instance_count"),
    ("cluster", "main", {"cluster_min_acu": 8, "cluster_max_acu": 2}, "cluster_max_acu"),
    ("cluster", "main", {"cluster_master_secret_arn": "not a secret!"}, "cluster_master_secret_arn"),
    # Well formed but absent: read before anything is created.
    ("cluster", "main", {"cluster_master_secret_arn": SECRET}, "Failed to find secret"),
    ("cluster", "main", {"cluster_min_acu": 0, "cluster_seconds_until_auto_pause": 10},
     "cluster_seconds_until_auto_pause"),
    ("cluster", "main", {"cluster_max_acu": 2.3}, "cluster_max_acu"),
    ("cluster", "main", {"cluster_preferred_backup_window": "2am"}, "cluster_preferred_backup_window"),
    ("secret", "main", {"secret_recovery_window_days": 3}, "secret_recovery_window_days"),
    ("secret", "main", {"secret_rotation_lambda_arn": "arn:bad"}, "secret_rotation_lambda_arn"),
    ("secret", "main", {"secret_cluster_identifier": "bad--id"}, "secret_cluster_identifier"),
    ("secret", "main", {"secret_arn_parameter": "no/leading/slash"}, "secret_arn_parameter"),
    ("schema", "main", {"schema_secret_arn": "not a secret!"}, "schema_secret_arn"),
    ("schema", "main", {"schema_port": 70000}, "schema_port"),
    ("schema", "main", {"schema_state": "gone"}, "schema_state"),
    ("schema", "main", {"schema_database": "App-DB"}, "schema_database"),
    ("snapshot_share", "main", {"snapshot_share_account_ids": ["12345"]}, "snapshot_share_account_ids"),
    ("snapshot_share", "main", {"snapshot_share_keep_newest": -1}, "snapshot_share_keep_newest"),
    ("snapshot_share", "main", {"snapshot_share_source": "magic"}, "snapshot_share_source"),
    ("refresh", "main", {"refresh_action": "explode"}, "refresh_action"),
    ("refresh", "update_latest", {"refresh_source_account_id": "1111"}, "refresh_source_account_id"),
    ("refresh", "update_latest", {"refresh_max_age_hours": -1}, "refresh_max_age_hours"),
    ("refresh", "update_latest", {"refresh_engine_major_version": "abc"}, "refresh_engine_major_version"),
    ("refresh", "restore_current", {"refresh_canonical_identifier": "bad--id"}, "refresh_canonical_identifier"),
    ("refresh", "restore_current", {"refresh_keep_previous": -1}, "refresh_keep_previous"),
    ("refresh", "restore_current", {"refresh_min_acu": 8, "refresh_max_acu": 2}, "refresh_max_acu"),
    ("refresh", "restore_current", {"refresh_maintenance_window": "someday", "refresh_force": False},
     "refresh_maintenance_window"),
    ("refresh", "restore_current", {"refresh_lock_ttl": 0}, "refresh_lock_ttl"),
    ("refresh", "restore_current", {"refresh_secret_arn": "arn:aws:s3:::bucket"}, "refresh_secret_arn"),
    ("refresh", "restore_current", {"refresh_security_group_ids": ["default"]}, "refresh_security_group_ids"),
    ("refresh", "restore_current", {"refresh_ssm_outputs_prefix": "no-slash"}, "refresh_ssm_outputs_prefix"),
    ("refresh", "restore_current", {"refresh_report_path": "/etc/hostname/report.json"}, "refresh_report_path"),
    ("refresh", "pin", {"refresh_pin_snapshot": "not a snapshot!"}, "refresh_pin_snapshot"),
    ("refresh", "rollback", {"refresh_canonical_identifier": "bad--id"}, "refresh_canonical_identifier"),
    ("refresh", "rollback", {"refresh_lock_stale_seconds": "soon"}, "refresh_lock_stale_seconds"),
    ("migrate", "main", {"migrate_target_secret_arn": "not a secret!"}, "migrate_target_secret_arn"),
    ("migrate", "main", {"migrate_section": "everything"}, "migrate_section"),
    ("migrate", "main", {"migrate_jobs": 0}, "migrate_jobs"),
    ("migrate", "main", {"migrate_owner_role": "Bad Role"}, "migrate_owner_role"),
    # A password in a plain variable: refused, the message names where credentials must come from.
    ("migrate", "main", {"migrate_source_secret_arn": "", "migrate_source_username": "u",
                         "migrate_source_password": "plain"}, "migrate_source_password"),
]


def case_id(case):
    role, entry, bad, dummy = case
    return "%d-%s.%s:%s" % (CASES.index(case), role, entry, ",".join(sorted(bad)))


def playbook(outcomes_path):
    """One play, one block per case; the rescue records the failed task and its message."""
    tasks = [{"name": "Start with no outcome", "ansible.builtin.set_fact": {"outcomes": {}}}]
    for case in CASES:
        role, entry, bad, dummy = case
        name = case_id(case)
        tasks.append({
            "name": name,
            "block": [
                {"name": "Call " + name, "ansible.builtin.include_role": {
                    "name": "dbops.aurora." + role, "tasks_from": entry},
                 "vars": dict(VALID[(role, entry)], **bad)},
                {"name": "Record that " + name + " went through",
                 "ansible.builtin.set_fact": {
                     "outcomes": "{{ outcomes | combine({%s: {'failed': false}}) }}" % json.dumps(name)}},
            ],
            "rescue": [
                {"name": "Record why " + name + " failed",
                 "ansible.builtin.set_fact": {
                     "outcomes": "{{ outcomes | combine({%s: {'failed': true, "
                                 "'task': ansible_failed_task.name | default(''), "
                                 "'msg': ansible_failed_result.msg | default('') | string}}) }}"
                                 % json.dumps(name)}},
            ],
        })
    tasks.append({"name": "Write the outcomes", "ansible.builtin.copy": {
        "content": "{{ outcomes | to_json }}", "dest": outcomes_path, "mode": "0600"}})
    return [{"name": "Every role entry point with bad input", "hosts": "localhost",
             "gather_facts": False, "tasks": tasks}]


@pytest.fixture(scope="module")
def outcomes(emulator, tmp_path_factory):
    folder = tmp_path_factory.mktemp("role-inputs")
    path = folder / "site.yml"
    found = folder / "outcomes.json"
    path.write_text(yaml.safe_dump(playbook(str(found)), sort_keys=False), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0", AWS_PROFILE="acceptance",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    emulator.control("calls?reset=1")
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), str(path), "-i", "localhost,",
                             "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable],
                            cwd=str(folder), env=env, capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    calls = emulator.control("calls")
    return json.loads(found.read_text(encoding="utf-8")), calls


READS = ("Describe", "Get", "List")


def test_no_bad_input_reaches_aws_with_a_change(outcomes):
    dummy, calls = outcomes
    changes = {action: count for action, count in calls["calls"].items()
               if not action.split(":")[-1].startswith(READS)}
    assert changes == {}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_input_fails_naming_the_field(outcomes, case):
    found, dummy = outcomes
    outcome = found[case_id(case)]
    assert outcome["failed"], "%s went through" % case_id(case)
    assert case[3] in outcome["msg"], outcome
    # Only what is wrong: the valid inputs given beside it are not reported.
    role, entry, bad, dummy = case
    for field in set(VALID[(role, entry)]) - set(bad):
        assert "%s: got" % field not in outcome["msg"], outcome
