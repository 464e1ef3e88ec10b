"""The shipped IAM policies, rendered by playbooks/iam_policies.yml: what each statement may touch.

moto's IAM enforcement (extensions/molecule/iam) proves the actions; it ignores resources.  These
tests render the policies for inventories/local and for the production and acceptance templates
filled in with other names, and ask of each policy, with IAM's own wildcard rules, what it allows
on which ARN: the configured names, account and region, and nothing beside them."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWS_SIDE = os.path.join(ROOT, "playbooks", "templates", "iam", "aws_side_actions.yml")
# Actions AWS authorises only against "*": listings (AWS RAM's are Get*), and calls that create
# what no name identifies yet.
UNSCOPABLE = re.compile(r"^[a-z0-9-]+:(Describe|List)[A-Za-z]*$|^kms:CreateKey$"
                        r"|^secretsmanager:GetRandomPassword$"
                        r"|^ram:(GetResourceShares|GetResourceShareAssociations|GetResourceShareInvitations"
                        r"|CreateResourceShare)$")
# IAM's size limit of a managed policy, white space not counted.
MANAGED_POLICY_MAX = 6144

# The production and acceptance templates, filled in with names unlike the local ones.
PRODUCTION_VALUES = {
    "dbops_account_id": "123456789012", "dbops_aws_region": "us-east-2", "dbops_project": "shop",
    "dbops_environment": "live", "dbops_cluster_identifier": "shop-live",
    "snapshot_share_cluster_identifier": "shop-live", "snapshot_share_kms_key_id": "alias/shop-live",
    "snapshot_share_account_ids": ["210987654321"],
    "bastion_transfer_bucket_name": "shop-live-ssm-transfer-123456789012",
    "bastion_instance_id_parameter": "/shop/live/bastion/instance-id",
}
ACCEPTANCE_VALUES = {
    "dbops_account_id": "210987654321", "dbops_aws_region": "us-east-2", "dbops_project": "shop",
    "dbops_environment": "acc", "dbops_cluster_identifier": "shop-acc",
    "refresh_canonical_identifier": "shop-acc", "refresh_source_account_id": "123456789012",
    "refresh_source_cluster_identifier": "shop-live",
    "refresh_latest_parameter": "/shop/acc/snapshot/latest",
    "refresh_current_parameter": "/shop/acc/snapshot/current",
    "refresh_lock_parameter": "/shop/acc/refresh/lock",
    "refresh_ssm_outputs_prefix": "/shop/acc/refresh",
    "refresh_secret_arn_parameter": "/shop/acc/db-credentials-arn",
    "refresh_cluster_ssm_prefix": "/shop/acc/cluster",
    "refresh_clone_parameter": "/shop/acc/clone/current",
    "bastion_transfer_bucket_name": "shop-acc-ssm-transfer-210987654321",
    "bastion_instance_id_parameter": "/shop/acc/bastion/instance-id",
}


def render(tmp_path, inventory, extra=None, region_env="eu-west-1"):
    """Run playbooks/iam_policies.yml as an operator does; return (result, {host/policy: doc}).

    inventory: a directory of inventories/, or an absolute path."""
    out = tmp_path / "policies"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_NOCOLOR="1", AWS_DEFAULT_REGION=region_env)
    env.pop("AWS_REGION", None)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
            os.path.join(ROOT, "playbooks", "iam_policies.yml"),
            "-i", os.path.join(ROOT, "inventories", inventory),  # an absolute path stays as it is
            "-e", "dbops_iam_policy_dir=%s" % out]
    if extra:
        argv += ["-e", json.dumps(extra)]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=300)
    documents = {}
    if out.exists():
        for path in sorted(out.glob("*/*.json")):
            documents["%s/%s" % (path.parent.name, path.stem)] = json.loads(path.read_text())
    return result, documents


@pytest.fixture(name="local", scope="module")
def fixture_local(tmp_path_factory):
    result, documents = render(tmp_path_factory.mktemp("local"), "local")
    assert result.returncode == 0, result.stdout + result.stderr
    return documents


@pytest.fixture(name="production", scope="module")
def fixture_production(tmp_path_factory):
    result, documents = render(tmp_path_factory.mktemp("production"), "production", PRODUCTION_VALUES)
    assert result.returncode == 0, result.stdout + result.stderr
    return documents


@pytest.fixture(name="acceptance", scope="module")
def fixture_acceptance(tmp_path_factory):
    result, documents = render(tmp_path_factory.mktemp("acceptance"), "acceptance", ACCEPTANCE_VALUES)
    assert result.returncode == 0, result.stdout + result.stderr
    return documents


def glob(pattern, value):
    """IAM's wildcards: * any run of characters, ? exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def as_list(value):
    return value if isinstance(value, list) else [value]


def allows(document, action, resource, aliases=(), via=None, context=None):
    """Whether an Allow statement names action and resource (conditions: key aliases, kms:ViaService,
    and the StringEquals(IfExists) keys given in ``context``, a request's values)."""
    for statement in document["Statement"]:
        if not any(glob(p, action) for p in as_list(statement["Action"])):
            continue
        if not any(glob(p, resource) for p in as_list(statement["Resource"])):
            continue
        condition = statement.get("Condition", {})
        wanted_aliases = condition.get("ForAnyValue:StringEquals", {}).get("kms:ResourceAliases")
        if wanted_aliases is not None and not set(as_list(wanted_aliases)) & set(aliases):
            continue
        wanted_via = condition.get("StringEquals", {}).get("kms:ViaService")
        if wanted_via is not None and wanted_via != via:
            continue
        if any(key in (context or {}) and context[key] not in as_list(values)
               for operator in ("StringEquals", "StringEqualsIfExists")
               for key, values in condition.get(operator, {}).items()):
            continue
        return True
    return False


def provisioning(documents, host):
    """Both provisioning files of a host, as the one credential holding them sees them."""
    return {"Statement": (documents[host + "/provisioning"]["Statement"]
                          + documents[host + "/provisioning_bastion"]["Statement"])}


def clone_refresh(documents):
    """acceptance_clone beside acceptance_jobs, as a clone refresh's credential holds them."""
    return {"Statement": (documents["acceptance/acceptance_jobs"]["Statement"]
                          + documents["acceptance/acceptance_clone"]["Statement"])}


def actions(document):
    return {action for statement in document["Statement"] for action in as_list(statement["Action"])}


def all_documents(local, production, acceptance):
    return [("local/" + name, doc) for name, doc in local.items()] + \
        [("production/" + name, doc) for name, doc in production.items()] + \
        [("acceptance/" + name, doc) for name, doc in acceptance.items()]


def test_each_inventory_gets_the_policies_of_the_jobs_its_hosts_run(local, production, acceptance):
    assert sorted(local) == ["acceptance/acceptance_clone", "acceptance/acceptance_jobs",
                             "acceptance/provisioning", "acceptance/provisioning_bastion",
                             "production/production_clone", "production/production_jobs",
                             "production/provisioning", "production/provisioning_bastion"]
    assert sorted(production) == ["production/production_clone", "production/production_jobs",
                                  "production/provisioning", "production/provisioning_bastion"]
    assert sorted(acceptance) == ["acceptance/acceptance_clone", "acceptance/acceptance_jobs",
                                  "acceptance/provisioning", "acceptance/provisioning_bastion"]


def test_without_a_bastion_there_is_no_bastion_policy(tmp_path):
    result, documents = render(tmp_path, "production", dict(PRODUCTION_VALUES, dbops_bastion_enabled=False))
    assert result.returncode == 0, result.stdout
    assert sorted(documents) == ["production/production_clone", "production/production_jobs",
                                 "production/provisioning"]
    assert not any(a.startswith(("iam:PassRole", "s3:", "ec2:RunInstances"))
                   for a in actions(documents["production/provisioning"]))


def test_an_inventory_without_the_names_is_refused_naming_what_to_set(tmp_path):
    inventory = tmp_path / "bare"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text("environments:\n  hosts:\n    production:\n    acceptance:\n")
    result, documents = render(tmp_path, str(inventory), region_env="")
    assert result.returncode != 0 and documents == {}
    for name in ("dbops_account_id", "dbops_aws_region", "refresh_source_account_id",
                 "refresh_source_cluster_identifier", "snapshot_share_cluster_identifier",
                 "dbops_project", "dbops_cluster_identifier"):
        assert name in result.stdout, name


def test_star_only_in_statements_marked_unscopable_and_only_for_unscopable_actions(
        local, production, acceptance):
    for name, document in all_documents(local, production, acceptance):
        assert document["Version"] == "2012-10-17"
        for statement in document["Statement"]:
            assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"]), (name, statement["Sid"])
            assert statement["Effect"] == "Allow"
            # Every action spelled out: no wildcard grants an action nobody proved.
            assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in as_list(statement["Action"]))
            if "*" in as_list(statement["Resource"]):
                assert statement["Sid"].endswith("Unscopable"), (name, statement["Sid"])
                assert as_list(statement["Resource"]) == ["*"]
                assert all(UNSCOPABLE.match(a) for a in statement["Action"]), (name, statement)
            else:
                assert not statement["Sid"].endswith("Unscopable"), (name, statement["Sid"])


def test_every_arn_names_the_configured_region_and_an_account_of_the_inventory(production, acceptance):
    for name, document, own, others in (
            ("production", production["production/production_jobs"], "123456789012", set()),
            ("production", production["production/production_clone"], "123456789012", set()),
            ("production", provisioning(production, "production"), "123456789012", set()),
            ("acceptance", provisioning(acceptance, "acceptance"), "210987654321", set()),
            # Production's snapshots and key, shared with acceptance.
            ("acceptance", acceptance["acceptance/acceptance_jobs"], "210987654321", {"123456789012"}),
            # Production's cluster, its key and its RAM invitations.
            ("acceptance", acceptance["acceptance/acceptance_clone"], "210987654321", {"123456789012"})):
        for statement in document["Statement"]:
            for arn in as_list(statement["Resource"]):
                if arn == "*":
                    continue
                partition, service, region, account = arn.split(":", 5)[1:5]
                assert partition == "aws", arn
                if service == "iam":
                    assert (region, account) in (("", own), ("", "aws")), arn
                elif service == "s3":  # bucket names are global: the one the inventory names
                    assert re.fullmatch(r"arn:aws:s3:::shop-(live|acc)-ssm-transfer-%s(/\*)?" % own, arn), arn
                elif arn.startswith("arn:aws:ec2:us-east-2::image/") or \
                        arn.startswith("arn:aws:ssm:us-east-2::parameter/aws/service/"):
                    pass  # public AMIs and AWS's public parameters belong to no account
                else:
                    assert region == "us-east-2", (name, arn)
                    assert account == own or account in others, (name, arn)
                    if account in others:
                        assert "Source" in statement["Sid"], (name, statement["Sid"])


def test_the_share_touches_only_the_production_clusters_snapshots(production):
    share = production["production/production_jobs"]
    rds = "arn:aws:rds:us-east-2:123456789012:"
    assert allows(share, "rds:CreateDBClusterSnapshot", rds + "cluster:shop-live")
    assert allows(share, "rds:CreateDBClusterSnapshot", rds + "cluster-snapshot:shop-live-20250101-0200")
    assert not allows(share, "rds:CreateDBClusterSnapshot", rds + "cluster:other")
    for action in ("rds:ModifyDBClusterSnapshotAttribute", "rds:DeleteDBClusterSnapshot",
                   "rds:CopyDBClusterSnapshot", "rds:AddTagsToResource"):
        assert allows(share, action, rds + "cluster-snapshot:shop-live-20250101-0200-shareable"), action
        assert not allows(share, action, rds + "cluster-snapshot:other-20250101-0200"), action
        assert not allows(share, action, rds + "cluster:shop-live"), action
    # The cluster itself is never changed or deleted by the share.
    assert not actions(share) & {"rds:ModifyDBCluster", "rds:DeleteDBCluster", "rds:DeleteDBInstance"}
    # The default source is manual: automated snapshots are not copied.
    assert not allows(share, "rds:CopyDBClusterSnapshot", rds + "cluster-snapshot:rds:shop-live-2025-01-01-02-00")


def test_the_share_may_copy_automated_snapshots_only_when_the_inventory_says_so(tmp_path):
    result, documents = render(tmp_path, "production", dict(PRODUCTION_VALUES, snapshot_share_source="automated"))
    assert result.returncode == 0, result.stdout
    share = documents["production/production_jobs"]
    rds = "arn:aws:rds:us-east-2:123456789012:"
    assert allows(share, "rds:CopyDBClusterSnapshot", rds + "cluster-snapshot:rds:shop-live-2025-01-01-02-00")
    assert not allows(share, "rds:DeleteDBClusterSnapshot", rds + "cluster-snapshot:rds:shop-live-2025-01-01-02-00")
    assert not allows(share, "rds:CopyDBClusterSnapshot", rds + "cluster-snapshot:rds:other-2025-01-01-02-00")


def test_a_sanitising_share_may_replace_only_its_temporary_cluster(tmp_path):
    rules = [{"table": "customers", "columns": {"email": "email"}}]
    result, documents = render(tmp_path, "production", dict(PRODUCTION_VALUES, dbops_masking_rules=rules))
    assert result.returncode == 0, result.stdout
    share = documents["production/production_jobs"]
    rds = "arn:aws:rds:us-east-2:123456789012:"
    temporary, production_cluster = rds + "cluster:shop-live-sanitize", rds + "cluster:shop-live"
    for action in ("rds:ModifyDBCluster", "rds:DeleteDBCluster", "rds:CreateDBClusterSnapshot"):
        assert allows(share, action, temporary), action
    for action in ("rds:ModifyDBCluster", "rds:DeleteDBCluster", "rds:RestoreDBClusterFromSnapshot"):
        assert not allows(share, action, production_cluster), action
        assert not allows(share, action, rds + "cluster:other"), action
    assert allows(share, "rds:RestoreDBClusterFromSnapshot", temporary)
    assert allows(share, "rds:DeleteDBInstance", rds + "db:shop-live-sanitize-1")
    assert not allows(share, "rds:DeleteDBInstance", rds + "db:shop-live-1")
    secret = "arn:aws:secretsmanager:us-east-2:123456789012:secret:shop/live/db-credentials-AbCdEf"
    assert allows(share, "secretsmanager:GetSecretValue", secret)
    assert not allows(share, "secretsmanager:PutSecretValue", secret)
    assert not allows(share, "secretsmanager:GetSecretValue", secret.replace("live", "acc"))


def test_the_share_reads_only_its_keys_and_lets_only_rds_use_the_shareable_one(production):
    share = production["production/production_jobs"]
    key = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert allows(share, "kms:DescribeKey", key, aliases=["alias/shop-live"])
    assert allows(share, "kms:DescribeKey", key, aliases=["alias/aws/rds"])  # is it unshareable?
    assert not allows(share, "kms:DescribeKey", key, aliases=["alias/other"])
    assert allows(share, "kms:CreateGrant", key, aliases=["alias/shop-live"], via="rds.us-east-2.amazonaws.com")
    assert not allows(share, "kms:CreateGrant", key, aliases=["alias/shop-live"])
    assert not allows(share, "kms:CreateGrant", key, aliases=["alias/aws/rds"], via="rds.us-east-2.amazonaws.com")
    # The preflight, run with this credential, reads the shareable key's policy, and only that.
    assert allows(share, "kms:GetKeyPolicy", key, aliases=["alias/shop-live"])
    assert not allows(share, "kms:GetKeyPolicy", key, aliases=["alias/other"])


def test_the_refresh_replaces_clusters_but_never_deletes_the_canonical_one(acceptance):
    refresh = acceptance["acceptance/acceptance_jobs"]
    rds = "arn:aws:rds:us-east-2:210987654321:"
    for name in ("shop-acc", "shop-acc-r1a2b3c4d", "shop-acc-previous-r1a2b3c4d", "shop-acc-undone-r1a2b3c4d"):
        assert allows(refresh, "rds:ModifyDBCluster", rds + "cluster:" + name), name
        assert allows(refresh, "rds:AddTagsToResource", rds + "cluster:" + name), name
    assert allows(refresh, "rds:DeleteDBCluster", rds + "cluster:shop-acc-previous-r1a2b3c4d")
    assert not allows(refresh, "rds:DeleteDBCluster", rds + "cluster:shop-acc")
    assert allows(refresh, "rds:RestoreDBClusterFromSnapshot", rds + "cluster:shop-acc-r1a2b3c4d")
    assert not allows(refresh, "rds:RestoreDBClusterFromSnapshot", rds + "cluster:shop-acc")
    for other in ("shop-live", "other", "shop-accx"):
        assert not allows(refresh, "rds:ModifyDBCluster", rds + "cluster:" + other), other
    assert allows(refresh, "rds:RestoreDBClusterFromSnapshot", rds + "subgrp:shop-acc")
    assert allows(refresh, "rds:RestoreDBClusterFromSnapshot", rds + "cluster-pg:shop-acc-params")
    assert allows(refresh, "rds:CreateDBInstance", rds + "db:shop-acc-r1a2b3c4d-01010200-1")
    assert allows(refresh, "rds:DeleteDBInstance", rds + "db:shop-acc-1")
    assert not allows(refresh, "rds:DeleteDBInstance", rds + "db:other-1")


def test_the_refresh_copies_only_the_source_clusters_shared_snapshots(acceptance):
    refresh = acceptance["acceptance/acceptance_jobs"]
    source = "arn:aws:rds:us-east-2:123456789012:cluster-snapshot:"
    copies = "arn:aws:rds:us-east-2:210987654321:cluster-snapshot:"
    assert allows(refresh, "rds:CopyDBClusterSnapshot", source + "shop-live-20250101-0200")
    assert not allows(refresh, "rds:CopyDBClusterSnapshot", source + "other-20250101-0200")
    assert not allows(refresh, "rds:DeleteDBClusterSnapshot", source + "shop-live-20250101-0200")
    assert not allows(refresh, "rds:ModifyDBClusterSnapshotAttribute", source + "shop-live-20250101-0200")
    assert not allows(refresh, "rds:DescribeDBClusterSnapshotAttributes", source + "shop-live-20250101-0200")
    assert allows(refresh, "rds:CopyDBClusterSnapshot", copies + "shop-acc-r1a2b3c4d")
    assert allows(refresh, "rds:DeleteDBClusterSnapshot", copies + "shop-acc-r1a2b3c4d")
    assert allows(refresh, "rds:RestoreDBClusterFromSnapshot", copies + "shop-acc-r1a2b3c4d")
    # A final snapshot of the canonical cluster is not the refresh's to delete.
    assert not allows(refresh, "rds:DeleteDBClusterSnapshot", copies + "shop-acc-final-20250101")


def test_the_refresh_writes_only_its_pointers_lock_and_outputs(acceptance):
    refresh = acceptance["acceptance/acceptance_jobs"]
    ssm = "arn:aws:ssm:us-east-2:210987654321:parameter"
    for name in ("/shop/acc/snapshot/latest", "/shop/acc/snapshot/current", "/shop/acc/refresh/lock",
                 "/shop/acc/refresh/endpoint"):
        for action in ("ssm:PutParameter", "ssm:GetParameter", "ssm:AddTagsToResource"):
            assert allows(refresh, action, ssm + name), (action, name)
    assert allows(refresh, "ssm:GetParameter", ssm + "/shop/acc/db-credentials-arn")
    assert not allows(refresh, "ssm:PutParameter", ssm + "/shop/acc/db-credentials-arn")
    assert not allows(refresh, "ssm:PutParameter", ssm + "/shop/live/snapshot/latest")
    assert not allows(refresh, "ssm:DeleteParameter", ssm + "/shop/acc/other")


def test_the_refresh_reads_and_repoints_only_acceptances_secret(acceptance):
    refresh = acceptance["acceptance/acceptance_jobs"]
    secret = "arn:aws:secretsmanager:us-east-2:210987654321:secret:shop/acc/db-credentials-"
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"):
        assert allows(refresh, action, secret + "AbC123"), action
        # Another secret whose name only starts the same way, and production's secret.
        assert not allows(refresh, action, secret + "old-AbC123"), action
        assert not allows(refresh, action, secret.replace("210987654321", "123456789012")
                          .replace("/acc/", "/live/") + "AbC123"), action


def test_the_refresh_uses_keys_only_through_rds(acceptance):
    refresh = acceptance["acceptance/acceptance_jobs"]
    own = "arn:aws:kms:us-east-2:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    source = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    via = "rds.us-east-2.amazonaws.com"
    assert allows(refresh, "kms:DescribeKey", own, aliases=["alias/shop-acc"])
    assert not allows(refresh, "kms:DescribeKey", own, aliases=["alias/other"])
    assert allows(refresh, "kms:CreateGrant", own, aliases=["alias/shop-acc"], via=via)
    assert not allows(refresh, "kms:CreateGrant", own, aliases=["alias/shop-acc"])
    assert allows(refresh, "kms:CreateGrant", source, via=via)
    assert not allows(refresh, "kms:CreateGrant", source)
    assert not allows(refresh, "kms:Decrypt", source, via=via)


def test_provisioning_touches_only_its_environments_named_resources(production, acceptance):
    for document, account, project_env, cluster in (
            (provisioning(production, "production"), "123456789012", "shop/live", "shop-live"),
            (provisioning(acceptance, "acceptance"), "210987654321", "shop/acc", "shop-acc")):
        rds = "arn:aws:rds:us-east-2:%s:" % account
        name = project_env.replace("/", "-")
        for arn in (rds + "cluster:" + cluster, rds + "db:%s-1" % cluster,
                    rds + "cluster-pg:%s-params" % cluster, rds + "subgrp:" + name):
            assert allows(document, "rds:AddTagsToResource", arn), arn
        assert allows(document, "rds:DeleteDBCluster", rds + "cluster:" + cluster)
        assert not allows(document, "rds:DeleteDBCluster", rds + "cluster:%s-previous-r1a2b3c4d" % cluster)
        assert not allows(document, "rds:DeleteDBCluster", rds + "cluster:other")
        assert allows(document, "rds:CreateDBClusterSnapshot", rds + "cluster-snapshot:%s-final-20250101" % cluster)
        secret = "arn:aws:secretsmanager:us-east-2:%s:secret:%s/db-credentials-AbC123" % (account, project_env)
        assert allows(document, "secretsmanager:CreateSecret", secret)
        assert not allows(document, "secretsmanager:DeleteSecret", secret.replace(project_env, "shop/other"))
        ssm = "arn:aws:ssm:us-east-2:%s:parameter/%s/" % (account, project_env)
        assert allows(document, "ssm:PutParameter", ssm + "db-credentials-arn")
        assert allows(document, "ssm:PutParameter", ssm + "cluster/endpoint")
        assert not allows(document, "ssm:PutParameter", ssm.replace(project_env, "shop/other") + "x")
        role = "arn:aws:iam::%s:role/%s-bastion-bastion" % (account, name)
        assert allows(document, "iam:PutRolePolicy", role)
        assert not allows(document, "iam:PutRolePolicy", "arn:aws:iam::%s:role/admin" % account)
        assert allows(document, "iam:PassRole", role)
        assert not allows(document, "iam:PassRole", "arn:aws:iam::%s:role/admin" % account)
        # EC2 ids are generated: this account and region only.
        assert allows(document, "ec2:CreateVpc", "arn:aws:ec2:us-east-2:%s:vpc/vpc-0123" % account)
        assert not allows(document, "ec2:CreateVpc", "arn:aws:ec2:eu-west-1:%s:vpc/vpc-0123" % account)
        bucket = "arn:aws:s3:::%s-ssm-transfer-%s" % (name, account)
        assert allows(document, "s3:PutBucketPolicy", bucket)
        assert allows(document, "s3:DeleteObject", bucket + "/left/file.sql")
        assert not allows(document, "s3:PutBucketPolicy", "arn:aws:s3:::other")
        assert not allows(document, "s3:DeleteObject", bucket)  # objects only, not the bucket ARN
        assert allows(document, "ssm:PutParameter", ssm + "bastion/instance-id")
        key = "arn:aws:kms:us-east-2:%s:key/1234abcd-12ab-34cd-56ef-1234567890ab" % account
        assert allows(document, "kms:ScheduleKeyDeletion", key, aliases=["alias/" + cluster])
        assert not allows(document, "kms:ScheduleKeyDeletion", key, aliases=["alias/other"])


def test_the_cluster_share_shares_only_the_production_cluster_and_changes_nothing_else(production):
    share = production["production/production_clone"]
    cluster = "arn:aws:rds:us-east-2:123456789012:cluster:shop-live"
    shares = "arn:aws:ram:us-east-2:123456789012:resource-share/"
    assert allows(share, "ram:CreateResourceShare", "*", context={"ram:ResourceArn": cluster})
    assert not allows(share, "ram:CreateResourceShare", "*",
                      context={"ram:ResourceArn": cluster.replace("shop-live", "other")})
    name = {"ram:ResourceShareName": "dbops-clone-shop-live"}
    assert allows(share, "ram:AssociateResourceShare", shares + "1a2b", context=name)
    assert allows(share, "ram:AssociateResourceShare", shares + "1a2b", context=dict(name, **{"ram:ResourceArn": cluster}))
    assert not allows(share, "ram:AssociateResourceShare", shares + "1a2b",
                      context={"ram:ResourceShareName": "someone-elses-share"})
    assert not allows(share, "ram:AssociateResourceShare", shares.replace("123456789012", "210987654321") + "1a2b",
                      context=name)
    assert allows(share, "ram:TagResource", shares + "1a2b")
    # Nothing is removed from a share or deleted, and the cluster itself is never changed.
    assert actions(share) == {"ram:GetResourceShares", "ram:GetResourceShareAssociations", "ram:CreateResourceShare",
                              "ram:AssociateResourceShare", "ram:TagResource", "rds:DescribeDBClusters",
                              "kms:DescribeKey", "kms:GetKeyPolicy"}
    key = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert allows(share, "kms:GetKeyPolicy", key, aliases=["alias/shop-live"])
    assert not allows(share, "kms:GetKeyPolicy", key, aliases=["alias/other"])
    assert allows(share, "kms:DescribeKey", key, aliases=["alias/aws/rds"])  # refused with a reason
    # The snapshot share's policy has nothing of RAM.
    assert not any(a.startswith("ram:") for a in actions(production["production/production_jobs"]))


def test_a_clone_refresh_clones_only_the_source_cluster_into_its_own_names(acceptance):
    clone = clone_refresh(acceptance)
    alone = acceptance["acceptance/acceptance_clone"]
    rds = "arn:aws:rds:us-east-2:210987654321:"
    source = "arn:aws:rds:us-east-2:123456789012:cluster:shop-live"
    for arn in (source, rds + "cluster:shop-acc-r1a2b3c4d", rds + "subgrp:shop-acc", rds + "cluster-pg:shop-acc-params"):
        assert allows(alone, "rds:RestoreDBClusterToPointInTime", arn), arn
    for arn in (source.replace("shop-live", "other"), source.replace("123456789012", "999999999999"),
                rds + "cluster:shop-acc", rds + "cluster:other-r1a2b3c4d"):
        assert not allows(clone, "rds:RestoreDBClusterToPointInTime", arn), arn
    # The serving clone is snapshotted and deleted (acceptance_jobs alone never deletes it).
    assert allows(clone, "rds:DeleteDBCluster", rds + "cluster:shop-acc")
    assert not allows(acceptance["acceptance/acceptance_jobs"], "rds:DeleteDBCluster", rds + "cluster:shop-acc")
    assert not allows(clone, "rds:DeleteDBCluster", rds + "cluster:other")
    final = rds + "cluster-snapshot:shop-acc-final-r1a2b3c4d"
    for arn in (rds + "cluster:shop-acc", rds + "cluster:shop-acc-undone-r1a2b3c4d", final):
        assert allows(alone, "rds:CreateDBClusterSnapshot", arn), arn
    assert not allows(clone, "rds:CreateDBClusterSnapshot", rds + "cluster:other")
    for action in ("rds:AddTagsToResource", "rds:DeleteDBClusterSnapshot", "rds:RestoreDBClusterFromSnapshot"):
        assert allows(alone, action, final), action
        # Provisioning's final snapshot of the canonical cluster is not a clone refresh's.
        assert not allows(clone, action, rds + "cluster-snapshot:shop-acc-final-20250101"), action
    # A rollback restores the final snapshot as <canonical>-previous-<id>-f (acceptance_jobs names it).
    assert allows(clone, "rds:RestoreDBClusterFromSnapshot", rds + "cluster:shop-acc-previous-r1a2b3c4d-f")
    assert not allows(clone, "rds:RestoreDBClusterFromSnapshot", rds + "cluster:shop-acc")


def test_a_clone_refresh_accepts_only_the_source_accounts_invitations_and_reads_its_key(acceptance):
    alone = acceptance["acceptance/acceptance_clone"]
    invitation = "arn:aws:ram:us-east-2:123456789012:resource-share-invitation/1a2b"
    assert allows(alone, "ram:AcceptResourceShareInvitation", invitation)
    assert not allows(alone, "ram:AcceptResourceShareInvitation", invitation.replace("123456789012", "999999999999"))
    source_key = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    # clone_lineage asks KMS itself, not through RDS; production's key policy decides the key.
    assert allows(alone, "kms:DescribeKey", source_key)
    assert not allows(alone, "kms:DescribeKey", source_key.replace("123456789012", "999999999999"))
    assert not allows(alone, "kms:CreateGrant", source_key)
    ssm = "arn:aws:ssm:us-east-2:210987654321:parameter"
    for action in ("ssm:GetParameter", "ssm:PutParameter"):
        assert allows(alone, action, ssm + "/shop/acc/clone/current"), action
        assert not allows(alone, action, ssm + "/shop/acc/clone/other"), action


def test_the_local_policies_name_the_emulators_accounts_and_names(local):
    refresh = local["acceptance/acceptance_jobs"]
    assert allows(refresh, "rds:DeleteDBCluster",
                  "arn:aws:rds:eu-west-1:222222222222:cluster:app-acceptance-previous-r1a2b3c4d")
    assert allows(refresh, "ssm:PutParameter",
                  "arn:aws:ssm:eu-west-1:222222222222:parameter/dbops/acceptance/snapshot/latest")
    assert allows(refresh, "rds:CopyDBClusterSnapshot",
                  "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-20250101-0200")
    # No transfer bucket in inventories/local: no S3 at all.
    assert not any(a.startswith("s3:") for a in actions(provisioning(local, "production")))
    share = local["production/production_jobs"]
    assert allows(share, "rds:CreateDBClusterSnapshot", "arn:aws:rds:eu-west-1:111111111111:cluster:app-prod")
    assert allows(share, "kms:DescribeKey", "arn:aws:kms:eu-west-1:111111111111:key/k", aliases=["alias/app-prod"])
    # The clone refresh's names in the emulator: app-prod shared as dbops-clone-app-prod, the default pointer.
    assert allows(local["production/production_clone"], "ram:AssociateResourceShare",
                  "arn:aws:ram:eu-west-1:111111111111:resource-share/1a2b",
                  context={"ram:ResourceShareName": "dbops-clone-app-prod"})
    clone = local["acceptance/acceptance_clone"]
    assert allows(clone, "rds:RestoreDBClusterToPointInTime", "arn:aws:rds:eu-west-1:111111111111:cluster:app-prod")
    assert allows(clone, "ssm:PutParameter",
                  "arn:aws:ssm:eu-west-1:222222222222:parameter/dbops/acceptance/clone/current")


def test_aws_side_actions_are_in_their_policies_and_policies_fit_iams_size_limit(local, production,
                                                                                 acceptance):
    with open(AWS_SIDE, encoding="utf-8") as handle:
        aws_side = yaml.safe_load(handle)
    clone_documents = {"production": local["production/production_clone"], "acceptance": clone_refresh(local)}
    for host in ("production", "acceptance"):
        for policy, document in (("provisioning", provisioning(local, host)),
                                 (host + "_jobs", local["%s/%s_jobs" % (host, host)]),
                                 (host + "_clone", clone_documents[host])):
            missing = set(aws_side.get(policy) or {}) - actions(document)
            assert not missing, (host, policy, missing)
            assert not actions(document) & set(aws_side["tolerated_denials"]), (host, policy)
    for name, document in all_documents(local, production, acceptance):
        assert len(re.sub(r"\s", "", json.dumps(document))) <= MANAGED_POLICY_MAX, name
