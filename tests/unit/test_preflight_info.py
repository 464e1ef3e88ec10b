"""dbops.aurora.preflight_info against the emulator: each check passes on a ready account and
fails, naming the cause and the fix, when its precondition is missing."""

import importlib
import json
import urllib.request

import pytest

from snapshot_helpers import ACCEPTANCE, PRODUCTION, cluster, snapshot, unique

MODULE = "ansible_collections.dbops.aurora.plugins.modules.preflight_info"
PRODUCTION_CHECKS = ["account", "share_account_ids", "source_cluster", "kms_key",
                     "kms_key_policy"]
ACCEPTANCE_CHECKS = ["account", "latest_pointer", "current_pointer", "lock", "secret_arn",
                     "secret_value", "canonical_cluster", "shared_snapshots"]


def key_policy(owner, share_with=(), **extra_statement):
    """A key policy like the cluster role's: the owner administers, ``share_with`` may use."""
    statements = [{"Sid": "AccountAdministers", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::%s:root" % owner},
                   "Action": "kms:*", "Resource": "*"}]
    if share_with:
        roots = ["arn:aws:iam::%s:root" % account for account in share_with]
        statements.append({"Sid": "SnapshotTargetsUseKey", "Effect": "Allow",
                           "Principal": {"AWS": roots},
                           "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                                      "kms:GenerateDataKey*", "kms:DescribeKey"],
                           "Resource": "*"})
        statements.append({"Sid": "SnapshotTargetsCreateGrants", "Effect": "Allow",
                           "Principal": {"AWS": roots},
                           "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                           "Resource": "*",
                           "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
    if extra_statement:
        statements.append(dict({"Effect": "Allow", "Resource": "*"}, **extra_statement))
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def new_key(kms, policy, alias=None):
    key = kms.create_key(Description="preflight tests", Policy=policy)["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key


@pytest.fixture(scope="module")
def world(emulator):
    """A production account ready to share and an acceptance account ready to be refreshed.

    Production: key shareable with acceptance, cluster encrypted with it, a snapshot of it
    shared with acceptance; a second cluster on the AWS-managed key.  Acceptance: the
    canonical cluster, the secret and the SSM parameter publishing its ARN, a latest pointer
    (current and lock absent).  aurora-mysql clusters: no PostgreSQL server is needed here.
    """
    tag = unique("pf")
    prod_kms, prod_rds = (emulator.client(service, "production") for service in ("kms", "rds"))
    alias = "alias/%s" % tag
    key = new_key(prod_kms, key_policy(PRODUCTION, [ACCEPTANCE]), alias)
    source = "%s-prod" % tag
    cluster(prod_rds, source, engine="aurora-mysql", StorageEncrypted=True, KmsKeyId=alias)
    snapshot(prod_rds, source, "%s-1" % source, share_with=[ACCEPTANCE])
    managed = "%s-managed" % tag
    cluster(prod_rds, managed, engine="aurora-mysql", StorageEncrypted=True)

    acc_rds, acc_ssm, acc_secrets = (emulator.client(service, "acceptance")
                                     for service in ("rds", "ssm", "secretsmanager"))
    canonical = "%s-acc" % tag
    cluster(acc_rds, canonical, engine="aurora-mysql",
            Tags=[{"Key": "environment", "Value": "acceptance"}])
    secret = acc_secrets.create_secret(Name="%s/db-credentials" % tag, SecretString=json.dumps(
        {"username": "dbmaster", "password": "preflight-secret-1"}))["ARN"]
    secret_parameter = "/%s/db-credentials-arn" % tag
    acc_ssm.put_parameter(Name=secret_parameter, Value=secret, Type="String")
    latest = "/%s/snapshot/latest" % tag
    acc_ssm.put_parameter(Name=latest, Type="String",
                          Value="arn:aws:rds:eu-west-1:%s:cluster-snapshot:%s-1" % (PRODUCTION, source))
    return {"tag": tag, "alias": alias, "key": key, "source": source, "managed": managed,
            "canonical": canonical, "secret": secret, "secret_parameter": secret_parameter,
            "latest": latest}


def production_args(world, **overrides):
    args = {"side": "production", "expected_account_id": PRODUCTION,
            "cluster_identifier": world["source"], "share_account_ids": [ACCEPTANCE]}
    args.update(overrides)
    return args


def acceptance_args(world, **overrides):
    tag = world["tag"]
    args = {"side": "acceptance", "expected_account_id": ACCEPTANCE,
            "source_account_id": PRODUCTION, "source_cluster_identifier": world["source"],
            "canonical_identifier": world["canonical"],
            "latest_parameter": world["latest"],
            "current_parameter": "/%s/snapshot/current" % tag,
            "lock_parameter": "/%s/refresh/lock" % tag,
            "secret_arn_parameter": world["secret_parameter"]}
    args.update(overrides)
    return args


def findings(result):
    assert not result.failed and not result.changed, result
    assert result["failed_checks"] == [f["check"] for f in result["findings"] if not f["ok"]]
    assert result["ok"] == (not result["failed_checks"])
    for item in result["findings"]:
        # A failed check always says what to fix; a passed one has nothing to fix.
        assert bool(item["fix"]) != item["ok"], item
    return {item["check"]: item for item in result["findings"]}


def only_failure(result, check):
    found = findings(result)
    assert result["failed_checks"] == [check], result["findings"]
    return found[check]


# Production side ----------------------------------------------------------------------------

def test_production_ready_passes_every_check_in_check_mode_too(run_module, world):
    for check_mode in (False, True):
        result = run_module("preflight_info", production_args(world, kms_key_id=world["alias"]),
                            profile="production", check_mode=check_mode)
        found = findings(result)
        assert list(found) == PRODUCTION_CHECKS and result["ok"], result["findings"]
        assert result["account_id"] == PRODUCTION
        assert "customer-managed key" in found["source_cluster"]["detail"]
        assert world["key"]["Arn"] in found["kms_key"]["detail"]
        assert ACCEPTANCE in found["kms_key_policy"]["detail"]
        assert result["canonical_cluster"] is None


def test_production_with_acceptance_credentials_stops_at_the_account(run_module, world):
    result = run_module("preflight_info", production_args(world), profile="acceptance")
    account = only_failure(result, "account")
    assert list(findings(result)) == ["account"]
    assert ACCEPTANCE in account["detail"] and PRODUCTION in account["detail"]
    assert "no other check ran" in account["detail"]
    assert "credentials of account %s" % PRODUCTION in account["fix"]


def test_without_an_expected_account_the_account_check_fails_but_the_rest_runs(run_module, world):
    args = production_args(world)
    del args["expected_account_id"]
    result = run_module("preflight_info", dict(args, setting_names={
        "expected_account_id": "dbops_account_id"}), profile="production")
    account = only_failure(result, "account")
    assert "dbops_account_id is not set" in account["detail"]
    assert list(findings(result)) == PRODUCTION_CHECKS


def test_share_account_ids_must_be_1_to_20_other_valid_accounts(run_module, world):
    cases = [
        ([], "is empty"),
        (["12345"], "'12345' must be a 12-digit AWS account id"),
        (["%012d" % (300000000000 + n) for n in range(21)], "at most 20"),
        ([ACCEPTANCE, PRODUCTION], "%s is this (production) account itself" % PRODUCTION),
    ]
    for accounts, reason in cases:
        result = run_module("preflight_info", production_args(
            world, share_account_ids=accounts,
            setting_names={"share_account_ids": "snapshot_share_account_ids"}),
            profile="production")
        found = findings(result)
        assert not found["share_account_ids"]["ok"], (accounts, found)
        assert reason in found["share_account_ids"]["detail"]
        assert "snapshot_share_account_ids" in found["share_account_ids"]["fix"]


def test_a_missing_source_cluster_is_named(run_module, world):
    result = run_module("preflight_info", production_args(
        world, cluster_identifier="no-such-cluster"), profile="production")
    finding = only_failure(result, "source_cluster")
    assert "no cluster no-such-cluster in account %s" % PRODUCTION in finding["detail"]
    assert "kms_key" not in findings(result)


def test_a_cluster_on_the_aws_managed_key_needs_a_key_to_copy_under(run_module, world):
    result = run_module("preflight_info", production_args(
        world, cluster_identifier=world["managed"],
        setting_names={"kms_key_id": "snapshot_share_kms_key_id"}), profile="production")
    finding = only_failure(result, "source_cluster")
    assert "AWS-managed aws/rds key" in finding["detail"]
    assert "snapshot_share_kms_key_id" in finding["fix"]

    copied = run_module("preflight_info", production_args(
        world, cluster_identifier=world["managed"], kms_key_id=world["alias"]),
        profile="production")
    found = findings(copied)
    assert copied["ok"], copied["findings"]
    assert "first copied under %s" % world["alias"] in found["source_cluster"]["detail"]
    assert world["key"]["Arn"] in found["kms_key"]["detail"]


def test_the_key_to_copy_under_must_exist_be_customer_managed_and_enabled(emulator, run_module,
                                                                          world):
    kms = emulator.client("kms", "production")
    disabled = new_key(kms, key_policy(PRODUCTION, [ACCEPTANCE]))
    kms.disable_key(KeyId=disabled["KeyId"])
    cases = [("alias/%s-none" % world["tag"], "no KMS key alias/%s-none" % world["tag"]),
             ("alias/aws/rds", "managed by AWS"),
             (disabled["Arn"], "it is Disabled, not Enabled")]
    for key_id, reason in cases:
        result = run_module("preflight_info", production_args(
            world, cluster_identifier=world["managed"], kms_key_id=key_id), profile="production")
        finding = only_failure(result, "kms_key")
        assert reason in finding["detail"], finding
        assert "kms_key_policy" not in findings(result)


def test_a_key_policy_that_does_not_name_acceptance_fails_naming_it(emulator, run_module, world):
    kms = emulator.client("kms", "production")
    alias = "alias/%s-unshared" % world["tag"]
    new_key(kms, key_policy(PRODUCTION), alias)
    result = run_module("preflight_info", production_args(
        world, cluster_identifier=world["managed"], kms_key_id=alias), profile="production")
    finding = only_failure(result, "kms_key_policy")
    assert "%s lacks kms:Decrypt, kms:DescribeKey, kms:CreateGrant, kms:ReEncrypt*, " \
           "kms:GenerateDataKey*" % ACCEPTANCE in finding["detail"]
    assert "arn:aws:iam::%s:root" % ACCEPTANCE in finding["fix"]

    # Shared with two accounts, the policy naming one: only the other is named.
    other = "333333333333"
    result = run_module("preflight_info", production_args(
        world, share_account_ids=[ACCEPTANCE, other]), profile="production")
    finding = only_failure(result, "kms_key_policy")
    assert "%s lacks" % other in finding["detail"]
    assert "%s lacks" % ACCEPTANCE not in finding["detail"]


def test_key_policy_reading_wildcards_principals_denies_and_conditions(emulator, run_module,
                                                                       world):
    """Each policy is put on a real key and read back through the module."""
    kms = emulator.client("kms", "production")
    root = "arn:aws:iam::%s:root" % ACCEPTANCE
    role = "arn:aws:iam::%s:role/refresh" % ACCEPTANCE
    cases = [
        # (extra statement, passes, words in the detail)
        ({"Principal": {"AWS": ACCEPTANCE}, "Action": "kms:*"}, True, []),
        ({"Principal": {"AWS": [role]}, "Action": "*"}, True, ["only as %s" % role]),
        ({"Principal": {"AWS": root}, "NotAction": ["kms:ScheduleKeyDeletion"]}, True, []),
        ({"Principal": {"AWS": root}, "Action": ["kms:Decrypt", "kms:DescribeKey",
                                                 "kms:CreateGrant", "kms:ReEncryptFrom",
                                                 "kms:GenerateDataKey*"]},
         False, ["lacks kms:ReEncrypt*"]),
        ({"Principal": {"AWS": root}, "Action": "kms:*",
          "Condition": {"StringEquals": {"aws:SourceIp": "10.0.0.1"}}},
         False, ["lacks kms:Decrypt", "condition StringEquals aws:sourceip"]),
        ({"Principal": {"AWS": root}, "Action": "kms:*",
          "Condition": {"StringEquals": {"kms:CallerAccount": ACCEPTANCE,
                                         "kms:ViaService": "rds.eu-west-1.amazonaws.com"}}},
         True, []),
    ]
    for index, (statement, passes, words) in enumerate(cases):
        alias = "alias/%s-policy-%d" % (world["tag"], index)
        new_key(kms, key_policy(PRODUCTION, **statement), alias)
        result = run_module("preflight_info", production_args(
            world, cluster_identifier=world["managed"], kms_key_id=alias), profile="production")
        finding = findings(result)["kms_key_policy"]
        assert finding["ok"] == passes, (statement, finding)
        for word in words:
            assert word in finding["detail"], (statement, finding)

    # An unconditional Deny beats the allows of the shareable policy.
    alias = "alias/%s-denied" % world["tag"]
    policy = json.loads(key_policy(PRODUCTION, [ACCEPTANCE]))
    policy["Statement"].append({"Effect": "Deny", "Principal": {"AWS": "*"},
                                "Action": "kms:CreateGrant", "Resource": "*"})
    new_key(kms, json.dumps(policy), alias)
    result = run_module("preflight_info", production_args(
        world, cluster_identifier=world["managed"], kms_key_id=alias), profile="production")
    assert "lacks kms:CreateGrant" in only_failure(result, "kms_key_policy")["detail"]


# Acceptance side ----------------------------------------------------------------------------

def test_acceptance_ready_passes_every_check(run_module, world):
    result = run_module("preflight_info", acceptance_args(world), check_mode=True)
    found = findings(result)
    assert list(found) == ACCEPTANCE_CHECKS and result["ok"], result["findings"]
    assert "%s-1" % world["source"] in found["latest_pointer"]["detail"]
    assert "absent" in found["current_pointer"]["detail"] and "absent" in found["lock"]["detail"]
    assert world["secret"] in found["secret_arn"]["detail"]
    assert "user dbmaster" in found["secret_value"]["detail"]
    assert "preflight-secret-1" not in json.dumps(result)
    assert "environment=acceptance" in found["canonical_cluster"]["detail"]
    assert "1 available snapshot(s) of %s" % world["source"] in found["shared_snapshots"]["detail"]
    canonical = result["canonical_cluster"]
    assert canonical["identifier"] == world["canonical"] and canonical["port"] > 0
    assert canonical["endpoint"]


def test_acceptance_with_production_credentials_stops_at_the_account(run_module, world):
    result = run_module("preflight_info", acceptance_args(world, setting_names={
        "source_account_id": "refresh_source_account_id"}), profile="production")
    account = only_failure(result, "account")
    assert list(findings(result)) == ["account"]
    assert "in account %s, the production (source) account refresh_source_account_id" \
        % PRODUCTION in account["detail"]
    assert "acceptance account's credentials" in account["fix"]


def test_acceptance_in_an_unexpected_account_stops_at_the_account(run_module, world):
    result = run_module("preflight_info", acceptance_args(
        world, expected_account_id="333333333333",
        setting_names={"expected_account_id": "dbops_account_id"}))
    account = only_failure(result, "account")
    assert "in account %s, not 333333333333 (dbops_account_id)" % ACCEPTANCE in account["detail"]


def test_malformed_parameter_names_are_findings(run_module, world):
    result = run_module("preflight_info", acceptance_args(
        world, lock_parameter="refresh-lock",
        setting_names={"lock_parameter": "refresh_lock_parameter"}))
    finding = only_failure(result, "lock")
    assert "refresh_lock_parameter 'refresh-lock' must be an SSM parameter path" \
        in finding["detail"]


def set_auth(emulator, free_calls):
    """moto's IAM enforcement: after ``free_calls`` unchecked calls every call is checked."""
    request = urllib.request.Request(emulator.url + "/moto-api/reset-auth",
                                     data=str(free_calls).encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_access_denied_and_rejected_credentials_are_findings(emulator, run_module, world):
    iam = emulator.client("iam", "acceptance")
    user = unique("preflight-denied")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="all-but-reads", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["ssm:GetParameter", "secretsmanager:GetSecretValue"],
             "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    credentials = {"profile": None, "access_key": key["AccessKeyId"],
                   "secret_key": key["SecretAccessKey"]}
    unknown = {**credentials, "access_key": "AKIA" + "X" * 16}
    set_auth(emulator, 0)
    try:
        result = run_module("preflight_info", acceptance_args(world, **credentials))
        with_arn = run_module("preflight_info", acceptance_args(
            world, secret_arn=world["secret"], **credentials))
        rejected = run_module("preflight_info", acceptance_args(world, **unknown))
    finally:
        set_auth(emulator, "inf")
    # Enforcement is off again for the rest of the session: the unprivileged profile works.
    assert emulator.client("sts", "acceptance").get_caller_identity()["Account"] == ACCEPTANCE
    found = findings(result)
    assert result["failed_checks"] == ["latest_pointer", "current_pointer", "lock", "secret_arn"]
    for check in ("latest_pointer", "current_pointer", "lock", "secret_arn"):
        assert "AccessDenied" in found[check]["detail"]
        assert "ssm:GetParameter" in found[check]["detail"]
        assert "Allow ssm:GetParameter" in found[check]["fix"]
    secret = findings(with_arn)["secret_value"]
    assert not secret["ok"] and "secretsmanager:GetSecretValue" in secret["detail"]
    assert "Allow secretsmanager:GetSecretValue" in secret["fix"]

    # Credentials AWS does not know: the account check says so and nothing else runs.
    account = only_failure(rejected, "account")
    assert list(findings(rejected)) == ["account"]
    assert "cannot tell which account these credentials act in (InvalidClientTokenId" \
        in account["detail"]
    assert "valid credentials" in account["fix"]


def test_the_secret_arn_must_resolve(emulator, run_module, world):
    ssm = emulator.client("ssm", "acceptance")
    not_an_arn = "/%s/not-an-arn" % world["tag"]
    ssm.put_parameter(Name=not_an_arn, Value="app/acceptance/db-credentials", Type="String")
    cases = [({"secret_arn_parameter": "/%s/absent" % world["tag"]}, "does not exist"),
             ({"secret_arn_parameter": not_an_arn}, "is not a Secrets Manager secret ARN"),
             ({"secret_arn_parameter": None}, "no secret: secret_arn is not set")]
    for overrides, reason in cases:
        result = run_module("preflight_info", acceptance_args(world, **overrides))
        finding = only_failure(result, "secret_arn")
        assert reason in finding["detail"], finding
        assert "secret_value" not in findings(result)


def test_the_secret_must_exist_and_hold_username_and_password(emulator, run_module, world):
    secrets = emulator.client("secretsmanager", "acceptance")
    no_password = secrets.create_secret(Name="%s/no-password" % world["tag"],
                                        SecretString=json.dumps({"username": "x"}))["ARN"]
    gone = no_password.replace("no-password", "gone")
    for arn, reason in ((no_password, "non-empty password"), (gone, "ResourceNotFoundException")):
        result = run_module("preflight_info", acceptance_args(world, secret_arn=arn))
        finding = only_failure(result, "secret_value")
        assert reason in finding["detail"], finding


def test_the_canonical_cluster_must_exist_and_not_be_tagged_production(emulator, run_module,
                                                                       world):
    rds = emulator.client("rds", "acceptance")
    tagged = "%s-tagged" % world["tag"]
    cluster(rds, tagged, engine="aurora-mysql",
            Tags=[{"Key": "environment", "Value": "production"}])
    result = run_module("preflight_info", acceptance_args(world, canonical_identifier=tagged))
    finding = only_failure(result, "canonical_cluster")
    assert "%s in account %s is tagged environment=production" % (tagged, ACCEPTANCE) \
        in finding["detail"]
    assert result["canonical_cluster"]["identifier"] == tagged

    result = run_module("preflight_info", acceptance_args(
        world, canonical_identifier="%s-absent" % world["tag"]))
    finding = only_failure(result, "canonical_cluster")
    assert "no cluster" in finding["detail"] and "Provision acceptance" in finding["fix"]
    assert result["canonical_cluster"] is None


def test_shared_snapshots_of_the_source_cluster_must_be_visible(run_module, world):
    for overrides in ({"source_cluster_identifier": world["managed"]},
                      {"source_account_id": "333333333333"}):
        result = run_module("preflight_info", acceptance_args(world, **overrides))
        finding = only_failure(result, "shared_snapshots")
        assert "no available snapshot of" in finding["detail"], finding
        assert "share_snapshot.yml" in finding["fix"]


def test_key_access_reads_statement_shapes_without_aws(run_module):  # pylint: disable=unused-argument
    """The policy reader on shapes AWS stores but the emulator need not: a bare principal string,
    a single statement object, a Deny on a wildcard."""
    module = importlib.import_module(MODULE)
    allow_all = {"Effect": "Allow", "Principal": "*", "Action": "kms:*"}
    assert module.key_access(module.statements_of({"Statement": allow_all}), ACCEPTANCE)[0] == []
    deny_reencrypt = {"Effect": "Deny", "Principal": {"AWS": ACCEPTANCE},
                      "Action": "kms:ReEncrypt*"}
    missing = module.key_access([allow_all, deny_reencrypt], ACCEPTANCE)[0]
    assert missing == ["kms:ReEncrypt*"]
    other_account = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
                     "Action": "kms:*"}
    assert len(module.key_access([other_account], ACCEPTANCE)[0]) == 5
