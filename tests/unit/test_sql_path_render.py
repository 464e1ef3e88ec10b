"""The SQL path for real accounts, where the local stand-in cannot run it (no SSM sessions, no
cloud-init), checked by rendering through Ansible itself:

- the bastion's cloud-config, inline policy and transfer-bucket policy, rendered with the role's
  defaults and given variables by ``lookup('ansible.builtin.template')``, as the role renders them;
- ``inventories/production`` and ``inventories/acceptance`` as shipped (placeholder values),
  resolved by ansible-playbook: the SQL runner that dbops_sql_runner, the refresh role's
  refresh_sql_runner and the schema role's schema_sql_runner name is the bastion, reached through
  community.aws.aws_ssm with a bucket, a region and an instance id, and every setting a real run
  needs is there.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, import_collection_plugin

BIN = os.path.dirname(sys.executable)
BASTION = os.path.join(ROOT, "roles", "bastion")
ROLE_ARN = "arn:aws:iam::222222222222:role/app-acceptance-bastion-bastion"
CONTROLLER_ARN = "arn:aws:iam::222222222222:role/awx-acceptance-jobs"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:app/acceptance/db-credentials-AbCdEf"
CLUSTER_ARN = "arn:aws:rds:eu-west-1:222222222222:cluster:app-acceptance"
BUCKET = "app-acceptance-ssm-transfer-222222222222"
ENVIRONMENTS = {"production": "bastion-production", "acceptance": "bastion-acceptance"}


def ansible_env():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


def run_playbook(path, *args):
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), path] + list(args),
                            cwd=ROOT, env=ansible_env(), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


# ---- the bastion's templates ----------------------------------------------------------------

def bastion_defaults():
    with open(os.path.join(BASTION, "defaults", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


RENDER_CASES = {
    "cloud_config": ("cloud-config.j2", {"bastion_name": "app-acceptance-bastion"}),
    "cloud_config_extras": ("cloud-config.j2", {
        "bastion_name": "app-acceptance-bastion", "bastion_postgresql_package": "postgresql17",
        "bastion_extra_packages": ["htop", "nmap-ncat"]}),
    "inline_policy": ("policy.json.j2", {
        "bastion_secret_arn": SECRET_ARN, "bastion_cluster_arn": CLUSTER_ARN}),
    "inline_policy_bucket": ("policy.json.j2", {
        "bastion_secret_arn": SECRET_ARN, "bastion_cluster_arn": CLUSTER_ARN,
        "bastion_transfer_bucket_name": BUCKET}),
    "inline_policy_bucket_china": ("policy.json.j2", {
        "bastion_secret_arn": "arn:aws-cn:secretsmanager:cn-north-1:222222222222:secret:db-AbCdEf",
        "bastion_transfer_bucket_name": BUCKET}),
    "bucket_policy": ("transfer-bucket-policy.json.j2", {
        "bastion_role_arn": ROLE_ARN, "bastion_transfer_bucket_name": BUCKET,
        "bastion_transfer_principal_arns": [CONTROLLER_ARN]}),
    "bucket_policy_bastion_only": ("transfer-bucket-policy.json.j2", {
        "bastion_role_arn": ROLE_ARN, "bastion_transfer_bucket_name": BUCKET}),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every case rendered in one ansible-playbook run: {case: text}."""
    work = tmp_path_factory.mktemp("render")
    cases = []
    for name, (template, variables) in RENDER_CASES.items():
        cases.append({"name": name, "src": os.path.join(BASTION, "templates", template),
                      "vars": dict(bastion_defaults(), **variables)})
    (work / "cases.json").write_text(json.dumps({"render_cases": cases}))
    (work / "render.yml").write_text(yaml.safe_dump([{
        "name": "Render the bastion's templates as the role does",
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [{
            "name": "Render one case",
            "ansible.builtin.copy": {
                "content": "{{ lookup('ansible.builtin.template', item.src,"
                           " template_vars=item.vars) }}",
                "dest": str(work) + "/{{ item.name }}.out", "mode": "0600"},
            "loop": "{{ render_cases }}",
            "loop_control": {"label": "{{ item.name }}"}}]}]))
    run_playbook(str(work / "render.yml"), "-e", "@" + str(work / "cases.json"),
                 "-i", "localhost,")
    return {name: (work / (name + ".out")).read_text() for name in RENDER_CASES}


def cloud_config(text):
    assert text.splitlines()[0] == "#cloud-config", "cloud-init reads user data as cloud-config only then"
    return yaml.safe_load(text)


def test_cloud_config_installs_what_the_sql_tasks_need(rendered):
    config = cloud_config(rendered["cloud_config"])
    # The role's default client, then what community.postgresql needs under the bastion's python3.
    assert config["packages"] == ["postgresql16", "python3", "python3-psycopg2", "jq"]
    assert config["package_update"] is False
    assert set(config) == {"package_update", "packages"}


def test_cloud_config_takes_the_client_and_extra_packages(rendered):
    config = cloud_config(rendered["cloud_config_extras"])
    assert config["packages"] == ["postgresql17", "python3", "python3-psycopg2", "jq",
                                  "htop", "nmap-ncat"]


def statements_by_sid(policy_text):
    policy = json.loads(policy_text)
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids))
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_inline_policy_has_no_s3_right_without_a_bucket(rendered):
    statements = statements_by_sid(rendered["inline_policy"])
    assert list(statements) == ["ReadOnlyThisSecret", "DescribeOnlyThisCluster"]
    assert statements["ReadOnlyThisSecret"]["Resource"] == SECRET_ARN
    assert statements["DescribeOnlyThisCluster"]["Resource"] == CLUSTER_ARN
    assert "s3:" not in rendered["inline_policy"]


def test_inline_policy_lets_the_bastion_use_only_the_transfer_bucket(rendered):
    statements = statements_by_sid(rendered["inline_policy_bucket"])
    assert list(statements) == ["ReadOnlyThisSecret", "DescribeOnlyThisCluster",
                                "TransferFilesInThisBucket", "ListThisBucket"]
    objects = statements["TransferFilesInThisBucket"]
    assert objects["Effect"] == "Allow"
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"] == "arn:aws:s3:::%s/*" % BUCKET
    assert statements["ListThisBucket"]["Action"] == ["s3:ListBucket"]
    assert statements["ListThisBucket"]["Resource"] == "arn:aws:s3:::%s" % BUCKET


def test_inline_policy_takes_the_partition_from_the_secret(rendered):
    statements = statements_by_sid(rendered["inline_policy_bucket_china"])
    assert "DescribeOnlyThisCluster" not in statements
    assert statements["TransferFilesInThisBucket"]["Resource"] == "arn:aws-cn:s3:::%s/*" % BUCKET
    assert statements["ListThisBucket"]["Resource"] == "arn:aws-cn:s3:::%s" % BUCKET


def test_bucket_policy_denies_plain_http_and_other_principals(rendered):
    bucket_arn = "arn:aws:s3:::" + BUCKET
    principals = [ROLE_ARN, CONTROLLER_ARN]
    statements = statements_by_sid(rendered["bucket_policy"])
    assert list(statements) == ["DenyInsecureTransport", "DenyObjectDataToOtherPrincipals",
                                "AllowTransferObjects", "AllowTransferBucketLookup"]

    insecure = statements["DenyInsecureTransport"]
    assert (insecure["Effect"], insecure["Principal"], insecure["Action"]) == ("Deny", "*", "s3:*")
    assert sorted(insecure["Resource"]) == [bucket_arn, bucket_arn + "/*"]
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    others = statements["DenyObjectDataToOtherPrincipals"]
    assert (others["Effect"], others["Principal"]) == ("Deny", "*")
    assert sorted(others["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert others["Resource"] == bucket_arn + "/*"
    assert others["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": principals}}

    objects = statements["AllowTransferObjects"]
    assert objects["Effect"] == "Allow"
    assert objects["Principal"] == {"AWS": principals}
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"] == bucket_arn + "/*"

    lookup = statements["AllowTransferBucketLookup"]
    assert lookup["Principal"] == {"AWS": principals}
    assert sorted(lookup["Action"]) == ["s3:GetBucketLocation", "s3:ListBucket"]
    assert lookup["Resource"] == bucket_arn

    # Nothing is ever allowed to everyone.
    assert all(statement["Principal"] != "*" for statement in statements.values()
               if statement["Effect"] == "Allow")


def test_bucket_policy_without_controllers_names_the_bastion_only(rendered):
    statements = statements_by_sid(rendered["bucket_policy_bastion_only"])
    assert statements["AllowTransferObjects"]["Principal"] == {"AWS": [ROLE_ARN]}
    assert statements["DenyObjectDataToOtherPrincipals"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [ROLE_ARN]}}


# ---- the inventories for real accounts --------------------------------------------------------

ROLE_VARIABLES = "^(refresh|snapshot_share|bastion)_"


def role_default(role, name):
    """A role default where the inventory sets nothing (role defaults have the lowest
    precedence): the role's own default expression, rendered under the host's variables."""
    return ("{{ %s if %s is defined else (lookup('ansible.builtin.template', resolve_root"
            " ~ '/roles/%s/defaults/main.yml') | from_yaml).%s }}" % (name, name, role, name))


RESOLVE_PLAYBOOK = [{
    "name": "Resolve what the playbooks see for each environment and its SQL runner",
    "hosts": "environments", "gather_facts": False,
    "tasks": [{
        "name": "Write the resolved values",
        "ansible.builtin.copy": {
            "dest": "{{ resolve_out }}/{{ inventory_hostname }}.json",
            "mode": "0600",
            "content": "{{ resolved | to_nice_json }}",
        },
        "delegate_to": "localhost",
        "vars": {
            "runner_vars": "{{ hostvars[dbops_sql_runner] }}",
            "role_variables": "{{ hostvars[inventory_hostname].keys()"
                              " | select('match', '%s') | list }}" % ROLE_VARIABLES,
            "resolved": {
                "dbops_sql_runner": "{{ dbops_sql_runner }}",
                "refresh_sql_runner": role_default("refresh", "refresh_sql_runner"),
                "schema_sql_runner": role_default("schema", "schema_sql_runner"),
                "environment_connection": "{{ ansible_connection }}",
                "dbops_account_id": "{{ dbops_account_id }}",
                "dbops_aws_region": "{{ dbops_aws_region }}",
                "bastion_transfer_bucket_name": "{{ bastion_transfer_bucket_name }}",
                "bastion_instance_id_parameter": "{{ bastion_instance_id_parameter }}",
                "groups": "{{ groups }}",
                "runner": {
                    "ansible_connection": "{{ runner_vars.ansible_connection }}",
                    "ansible_python_interpreter": "{{ runner_vars.ansible_python_interpreter }}",
                    "ansible_aws_ssm_bucket_name": "{{ runner_vars.ansible_aws_ssm_bucket_name }}",
                    "ansible_aws_ssm_region": "{{ runner_vars.ansible_aws_ssm_region }}",
                    "ansible_aws_ssm_profile": "{{ runner_vars.ansible_aws_ssm_profile }}",
                    "ansible_aws_ssm_instance_id": "{{ runner_vars.ansible_aws_ssm_instance_id }}",
                    "ssm_variables": "{{ runner_vars.keys() | select('match', '^ansible_aws_ssm_')"
                                     " | list }}",
                },
                # The role variables the inventory sets, resolved.
                "values": "{{ dict(role_variables | zip(role_variables"
                          " | map('extract', hostvars[inventory_hostname]))) }}",
            },
        },
    }],
}]


def resolve(tmp_path, inventory, *extra):
    """ansible-playbook over the shipped inventory: {environment host: resolved values}."""
    (tmp_path / "resolve.yml").write_text(yaml.safe_dump(RESOLVE_PLAYBOOK))
    run_playbook(str(tmp_path / "resolve.yml"), "-i", os.path.join(ROOT, "inventories", inventory),
                 "-e", "resolve_out=%s resolve_root=%s" % (tmp_path, ROOT),
                 *extra)
    return {path.stem: json.loads(path.read_text()) for path in tmp_path.glob("*.json")}


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    return {inventory: resolve(tmp_path_factory.mktemp(inventory), inventory)
            for inventory in ENVIRONMENTS}


@pytest.fixture(scope="module")
def aws_ssm_options():
    """The connection's documented variables, by the name the inventory gives it (a variable
    the plugin does not know would be silently ignored)."""
    result = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "connection", "-j",
                             "community.aws.aws_ssm"], cwd=ROOT, env=ansible_env(),
                            capture_output=True, text=True, timeout=120, check=True)
    doc = next(iter(json.loads(result.stdout).values()))["doc"]
    return {var["name"] for option in doc["options"].values() for var in option.get("vars", [])}


@pytest.mark.parametrize("inventory", sorted(ENVIRONMENTS))
def test_the_sql_runner_is_the_bastion_through_aws_ssm(resolved, inventory, aws_ssm_options):
    bastion = ENVIRONMENTS[inventory]
    values = resolved[inventory][inventory]
    # Every SQL task's runner resolves to the bastion.
    assert values["dbops_sql_runner"] == bastion
    assert values["refresh_sql_runner"] == bastion
    assert values["schema_sql_runner"] == bastion
    # The bastion is a host of its own group: provisioning (hosts: environments) never runs on it.
    assert values["groups"]["environments"] == [inventory]
    assert values["groups"]["sql_runners"] == [bastion]
    assert values["environment_connection"] == "local"

    runner = values["runner"]
    assert runner["ansible_connection"] == "community.aws.aws_ssm"
    assert runner["ansible_python_interpreter"] == "/usr/bin/python3"
    assert runner["ansible_aws_ssm_bucket_name"] == values["bastion_transfer_bucket_name"]
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", runner["ansible_aws_ssm_bucket_name"])
    assert runner["ansible_aws_ssm_bucket_name"].endswith(values["dbops_account_id"])
    assert runner["ansible_aws_ssm_region"] == values["dbops_aws_region"] == "eu-west-1"
    # Empty: under AWX the credential comes from the environment, from a shell AWS_PROFILE.
    assert runner["ansible_aws_ssm_profile"] == ""
    assert re.fullmatch(r"i-[0-9a-f]{8,17}", runner["ansible_aws_ssm_instance_id"])
    assert set(runner["ssm_variables"]) <= aws_ssm_options, "unknown aws_ssm variables"


@pytest.mark.parametrize("inventory", sorted(ENVIRONMENTS))
def test_every_role_variable_the_inventory_sets_exists(resolved, inventory):
    known = set()
    for role in ("refresh", "snapshot_share", "bastion"):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"),
                  encoding="utf-8") as handle:
            for entry in yaml.safe_load(handle)["argument_specs"].values():
                known.update(entry.get("options", {}))
    variables = set(resolved[inventory][inventory]["values"])
    assert variables - known == set(), "set in the inventory, read by no role"


def required_options(role, entry_points):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"),
              encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    return {name for entry in entry_points
            for name, option in specs[entry].get("options", {}).items() if option.get("required")}


def test_production_holds_what_the_share_needs(resolved):
    values = resolved["production"]["production"]
    assert re.fullmatch(r"[0-9]{12}", values["dbops_account_id"])
    missing = required_options("snapshot_share", ["main"]) - set(values["values"])
    assert missing == set()
    assert values["values"]["snapshot_share_cluster_identifier"] == "app-prod"
    assert values["values"]["snapshot_share_account_ids"] == ["222222222222"]
    assert values["values"]["snapshot_share_kms_key_id"] == "alias/app-prod"


def test_acceptance_holds_what_the_refresh_needs(resolved):
    values = resolved["acceptance"]["acceptance"]
    settings = values["values"]
    assert re.fullmatch(r"[0-9]{12}", values["dbops_account_id"])
    # pin takes its snapshot on the command line; every other entry point runs from the inventory.
    missing = required_options("refresh", ["update_latest", "restore_current", "rollback"]) \
        - set(settings)
    assert missing == set()
    assert settings["refresh_source_account_id"] == resolved["production"]["production"][
        "dbops_account_id"] != values["dbops_account_id"]
    assert settings["refresh_canonical_identifier"] == "app-acceptance"
    assert settings["refresh_secret_arn_parameter"] == "/app/acceptance/db-credentials-arn"
    assert settings["refresh_sanitize_sql_files"] and settings["refresh_smoke_checks"]
    assert all(set(check) == {"name", "sql"} for check in settings["refresh_smoke_checks"])
    # No fixed path: the role's default puts the report in the job's artifact directory.
    assert "refresh_report_path" not in settings
    # The window parses, and holds AWX's 04:00 (UTC) phase-2 schedule.
    refresh_filters = import_collection_plugin("plugins.filter.refresh")
    assert refresh_filters.in_maintenance_window(settings["refresh_maintenance_window"],
                                                 "2026-11-24T04:00:00Z") is True


def test_an_empty_instance_id_is_read_from_the_bastion_parameter(emulator, tmp_path):
    """The inventory's other way to the instance: the SSM parameter the bastion role publishes,
    looked up when the connection needs it (here against the stand-in's acceptance account)."""
    instance_id = "i-0fedcba9876543210"
    emulator.client("ssm").put_parameter(Name="/app/acceptance/bastion/instance-id",
                                         Value=instance_id, Type="String", Overwrite=True)
    # From a shell with a named profile (under AWX the credential is in the environment).
    values = resolve(tmp_path, "acceptance", "-e", "dbops_bastion_instance_id=",
                     "-e", "dbops_aws_profile=acceptance")["acceptance"]
    assert values["bastion_instance_id_parameter"] == "/app/acceptance/bastion/instance-id"
    assert values["runner"]["ansible_aws_ssm_instance_id"] == instance_id
