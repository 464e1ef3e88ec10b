"""dbops.aurora.cluster_restore against the emulator: real HTTP, real PostgreSQL servers."""

import json
import time

import psycopg2
import pytest

from snapshot_helpers import ACCEPTANCE, PASSWORD, cluster, snapshot, tags_of, unique

PROD_PASSWORD = PASSWORD  # what snapshot_helpers.cluster gives production
ACC_PASSWORD = "acceptance-secret-1"
ROWS = 250
FAST = {"poll_interval": 0.1, "wait_timeout": 60}
SCALING = {"min_capacity": 0.5, "max_capacity": 4}


def connect(described, password, dbname="app"):
    return psycopg2.connect(host=described["Endpoint"], port=described["Port"], user="master",
                            password=password, dbname=dbname, connect_timeout=5)


def count_rows(described, password):
    with connect(described, password) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(email) FROM customers")
        return cur.fetchone()


def describe(rds, identifier):
    try:
        return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except rds.exceptions.DBClusterNotFoundFault:
        return None


def instances_of(rds, identifier):
    found = rds.describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [identifier]}])["DBInstances"]
    return sorted((i["DBInstanceIdentifier"], i["DBInstanceStatus"]) for i in found)


@pytest.fixture(scope="module")
def source(emulator):
    """A production cluster with rows, a snapshot of it shared with acceptance, and an
    aurora-mysql snapshot in acceptance."""
    prod = emulator.client("rds", "production")
    name, snap = unique("crprod"), unique("crsnap")
    cluster(prod, name, version="16.4", DatabaseName="app",
            Tags=[{"Key": "environment", "Value": "production"}])
    with connect(describe(prod, name), PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (id int PRIMARY KEY, email text)")
        cur.execute("INSERT INTO customers SELECT g, 'user' || g || '@example.com' "
                    "FROM generate_series(1, %s) g", (ROWS,))
    shared = snapshot(prod, name, snap, share_with=[ACCEPTANCE])
    acc = emulator.client("rds", "acceptance")
    mysql, mysql_snap = unique("crmysql"), unique("crmysqlsnap")
    cluster(acc, mysql, engine="aurora-mysql")
    snapshot(acc, mysql, mysql_snap)
    return {"arn": shared["DBClusterSnapshotArn"], "name": snap, "mysql_snapshot": mysql_snap}


@pytest.fixture(scope="module")
def network(emulator):
    """Acceptance's subnet group, security group, parameter group and KMS key."""
    ec2 = emulator.client("ec2", "acceptance")
    rds = emulator.client("rds", "acceptance")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.%d.0/24" % n,
                                 AvailabilityZone="eu-west-1" + zone)["Subnet"]["SubnetId"]
               for n, zone in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName=unique("crdb"), Description="database",
                                      VpcId=vpc)["GroupId"]
    subnet_group = unique("crsubnets")
    rds.create_db_subnet_group(DBSubnetGroupName=subnet_group, SubnetIds=subnets,
                               DBSubnetGroupDescription="acceptance")
    parameter_group = unique("crparams")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=parameter_group,
                                          DBParameterGroupFamily="aurora-postgresql16",
                                          Description="acceptance")
    key = emulator.client("kms", "acceptance").create_key()["KeyMetadata"]["Arn"]
    return {"subnet_group": subnet_group, "security_group": group,
            "parameter_group": parameter_group, "kms_key": key}


@pytest.fixture()
def rds(emulator):
    return emulator.client("rds", "acceptance")


@pytest.fixture()
def target(rds):
    """A fresh cluster identifier; the cluster and its instances are deleted afterwards."""
    identifier = unique("cracc")
    yield identifier
    for instance, dummy in instances_of(rds, identifier):
        rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
    if describe(rds, identifier):
        rds.delete_db_cluster(DBClusterIdentifier=identifier, SkipFinalSnapshot=True)


def args(target, snap, **extra):
    params = dict(FAST, db_cluster_identifier=target, snapshot=snap,
                  serverless_v2_scaling=SCALING)
    params.update(extra)
    return params


def test_restore_shared_snapshot_with_acceptance_settings(rds, run_module, source, network,
                                                          target):
    params = args(target, source["arn"], engine_version="16",
                  db_subnet_group_name=network["subnet_group"],
                  vpc_security_group_ids=[network["security_group"]],
                  db_cluster_parameter_group_name=network["parameter_group"],
                  kms_key_id=network["kms_key"], backup_retention_period=3,
                  serverless_v2_scaling={"min_capacity": 0, "max_capacity": 8.5,
                                         "seconds_until_auto_pause": 600},
                  master_user_password=ACC_PASSWORD,
                  tags={"environment": "acceptance", "dbops:refresh-id": "r1"})
    result = run_module("cluster_restore", params)
    assert not result.failed, result
    assert result.changed and result["complete"] and result["stage"] == "complete"
    assert result["password_reset"] is True
    assert result["actions"] == [
        "restore cluster %s from snapshot %s" % (target, source["arn"]),
        "record instance prefix %s" % target,
        "create instance %s-1 (db.serverless)" % target,
        "reset master password",
        "tag cluster %s dbops:credentials=reset" % target]
    assert ACC_PASSWORD not in str(result)

    described = describe(rds, target)
    assert described["Status"] == "available"
    assert described["DBSubnetGroup"] == network["subnet_group"]
    assert [g["VpcSecurityGroupId"] for g in described["VpcSecurityGroups"]] == [
        network["security_group"]]
    assert described["DBClusterParameterGroup"] == network["parameter_group"]
    assert described["KmsKeyId"] == network["kms_key"]
    assert described["BackupRetentionPeriod"] == 3
    assert described["DeletionProtection"] is False
    assert described["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": 0.0, "MaxCapacity": 8.5, "SecondsUntilAutoPause": 600}
    assert described["EngineVersion"] == "16.4"
    assert tags_of(rds, described["DBClusterArn"]) == {
        "environment": "acceptance", "dbops:refresh-id": "r1",
        "dbops:source-snapshot": source["arn"], "dbops:credentials": "reset",
        "dbops:instance-prefix": target}
    assert instances_of(rds, target) == [(target + "-1", "available")]
    assert result["instances"] == [{"db_instance_identifier": target + "-1",
                                    "db_instance_class": "db.serverless",
                                    "status": "available"}]
    assert result["cluster"]["db_cluster_identifier"] == target
    assert result["cluster"]["tags"]["dbops:credentials"] == "reset"
    assert "tag_list" not in result["cluster"]

    # Production's rows, opened with acceptance's password; production's password is refused.
    assert count_rows(described, ACC_PASSWORD) == (ROWS, "user100@example.com")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(described, PROD_PASSWORD)

    again = run_module("cluster_restore", params)
    assert not again.failed, again
    assert not again.changed and again["actions"] == []
    assert again["complete"] and again["stage"] == "complete"
    assert again["password_reset"] is False
    assert again["polls"] == 1
    assert count_rows(described, ACC_PASSWORD)[0] == ROWS


def test_every_setting_and_the_password_from_the_secret(rds, run_module, source, network,
                                                        target, emulator):
    """What provisioning gives acceptance, the restore gives the new cluster (so provisioning
    afterwards changes nothing); the password comes from the secret, never as an argument."""
    secrets = emulator.client("secretsmanager", "acceptance")
    secret = secrets.create_secret(Name=unique("crsecret"), SecretString=json.dumps(
        {"username": "master", "password": ACC_PASSWORD}))["ARN"]
    params = args(target, source["arn"], kms_key_id=network["kms_key"],
                  master_user_secret_arn=secret, preferred_backup_window="01:00-01:30",
                  preferred_maintenance_window="sun:03:00-sun:03:30",
                  enable_cloudwatch_logs_exports=["postgresql"], copy_tags_to_snapshot=True)
    result = run_module("cluster_restore", params)
    assert not result.failed, result
    assert result["actions"][-3:] == [
        "reset master password", "set maintenance window sun:03:00-sun:03:30",
        "tag cluster %s dbops:credentials=reset, dbops:settings=applied" % target]
    described = describe(rds, target)
    assert described["PreferredBackupWindow"] == "01:00-01:30"
    assert described["PreferredMaintenanceWindow"] == "sun:03:00-sun:03:30"
    assert described["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert described["CopyTagsToSnapshot"] is True
    assert count_rows(described, ACC_PASSWORD)[0] == ROWS
    again = run_module("cluster_restore", params)
    assert not again.changed and again["actions"] == []

    bad = run_module("cluster_restore", dict(params, master_user_secret_arn="my-secret"))
    assert bad.failed and "master_user_secret_arn" in bad["msg"]
    both = run_module("cluster_restore", dict(params, master_user_password=ACC_PASSWORD))
    assert both.failed and "mutually exclusive" in both["msg"]


def test_a_secret_without_a_usable_password_changes_nothing(
        rds, run_module, source, target, emulator):
    secrets = emulator.client("secretsmanager", "acceptance")
    secret = secrets.create_secret(Name=unique("crnopass"),
                                   SecretString=json.dumps({"username": "master"}))["ARN"]
    result = run_module("cluster_restore", args(target, source["arn"],
                                                master_user_secret_arn=secret))
    assert result.failed and "has no JSON key password" in result["msg"]
    assert "reset master password" not in result["actions"]
    assert "dbops:credentials" not in tags_of(rds, describe(rds, target)["DBClusterArn"])
    assert count_rows(describe(rds, target), PROD_PASSWORD)[0] == ROWS


def test_without_password_the_restored_cluster_keeps_productions(rds, run_module, source,
                                                                 target):
    result = run_module("cluster_restore", args(target, source["arn"]))
    assert not result.failed, result
    assert result["complete"] and result["password_reset"] is False
    assert "dbops:credentials" not in result["cluster"]["tags"]
    assert count_rows(describe(rds, target), PROD_PASSWORD)[0] == ROWS


def test_wait_false_progresses_one_call_at_a_time(rds, run_module, source, settings, target):
    settings(creating_seconds=1.5)
    params = args(target, source["arn"], wait=False, master_user_password=ACC_PASSWORD)
    first = run_module("cluster_restore", params)
    assert not first.failed, first
    assert first.changed and first["complete"] is False and first["stage"] == "restoring"
    assert first["actions"] == ["restore cluster %s from snapshot %s" % (target, source["arn"])]
    assert first["cluster"]["status"] == "creating"
    assert first["waiting_for"].startswith("cluster %s to become available" % target)
    assert first["polls"] == 1 and first["waited_seconds"] == 0.0

    # The role's until: loop.
    results = [first]
    deadline = time.monotonic() + 30
    while not results[-1]["complete"] and time.monotonic() < deadline:
        time.sleep(0.25)
        results.append(run_module("cluster_restore", params))
        assert not results[-1].failed, results[-1]
    assert results[-1]["complete"] and results[-1]["stage"] == "complete"
    stages = [r["stage"] for r in results]
    order = ["restoring", "creating_instances", "resetting_password", "complete"]
    assert [order.index(s) for s in stages] == sorted(order.index(s) for s in stages)
    assert "creating_instances" in stages
    actions = [a for r in results for a in r["actions"]]
    assert actions.count("create instance %s-1 (db.serverless)" % target) == 1
    assert actions.count("reset master password") == 1
    assert sum(r["password_reset"] for r in results) == 1
    assert count_rows(describe(rds, target), ACC_PASSWORD)[0] == ROWS

    final = run_module("cluster_restore", params)
    assert not final.changed and final["complete"]


def test_wait_true_polls_through_every_stage(run_module, source, settings, target):
    settings(creating_seconds=1.0)
    result = run_module("cluster_restore", args(target, source["arn"], poll_interval=0.2,
                                                master_user_password=ACC_PASSWORD))
    assert not result.failed, result
    assert result["complete"] and result["password_reset"]
    # The cluster, then the instance, each stayed creating for a second.
    assert result["waited_seconds"] >= 1.8
    assert result["polls"] >= 4


def test_return_after_polls_inside_one_run_and_returns_without_failing(
        rds, run_module, source, settings, target):
    """The role's progress loop: each run polls for up to return_after seconds."""
    settings(creating_seconds=6)
    params = args(target, source["arn"], wait=False, return_after=1, poll_interval=0.2,
                  master_user_password=ACC_PASSWORD)
    runs = [run_module("cluster_restore", params)]
    while not runs[-1]["complete"] and len(runs) < 40:
        runs.append(run_module("cluster_restore", params))
    assert not any(run.failed for run in runs), runs
    assert runs[0]["complete"] is False and runs[-1]["complete"]
    assert sum(run["password_reset"] for run in runs) == 1
    # Each run that returned incomplete had kept polling for return_after (under load a single
    # poll may take that long by itself), instead of returning after one look.
    assert all(run["waited_seconds"] >= 1 for run in runs[:-1]), [
        (run["stage"], run["polls"], run["waited_seconds"], run["actions"]) for run in runs]
    assert count_rows(describe(rds, target), ACC_PASSWORD)[0] == ROWS
    settings(creating_seconds=0)


def test_wait_timeout_says_what_it_waited_for(rds, run_module, source, settings, target):
    settings(creating_seconds=30)
    result = run_module("cluster_restore", args(target, source["arn"], wait_timeout=3,
                                                poll_interval=0.2))
    assert result.failed
    assert "still waiting for cluster %s to become available (creating) after" % target \
        in result["msg"]
    assert "wait_timeout 3" in result["msg"]
    assert result["stage"] == "restoring" and result["polls"] >= 1
    assert describe(rds, target)["Status"] == "creating"
    settings(creating_seconds=0)


def test_check_mode_creates_nothing(rds, run_module, source, target):
    result = run_module("cluster_restore", args(target, source["arn"], instance_count=2,
                                                master_user_password=ACC_PASSWORD),
                        check_mode=True)
    assert not result.failed, result
    assert result.changed and result["complete"] is False
    assert result["stage"] == "restoring" and result["cluster"] is None
    assert result["actions"] == [
        "restore cluster %s from snapshot %s" % (target, source["arn"]),
        "record instance prefix %s" % target,
        "create instance %s-1 (db.serverless)" % target,
        "create instance %s-2 (db.serverless)" % target,
        "reset master password",
        "tag cluster %s dbops:credentials=reset" % target]
    assert result["password_reset"] is False
    assert describe(rds, target) is None
    assert instances_of(rds, target) == []


def test_check_mode_on_a_half_done_restore_plans_the_rest(rds, run_module, source, target):
    first = run_module("cluster_restore", args(target, source["arn"]))
    assert first["complete"], first
    planned = run_module("cluster_restore", args(target, source["arn"], instance_count=2,
                                                 master_user_password=ACC_PASSWORD),
                         check_mode=True)
    assert planned.changed and planned["stage"] == "creating_instances"
    assert planned["actions"] == ["create instance %s-2 (db.serverless)" % target,
                                  "reset master password",
                                  "tag cluster %s dbops:credentials=reset" % target]
    assert instances_of(rds, target) == [(target + "-1", "available")]
    assert "dbops:credentials" not in tags_of(rds, describe(rds, target)["DBClusterArn"])
    assert count_rows(describe(rds, target), PROD_PASSWORD)[0] == ROWS


def test_two_instances_and_extra_ones_are_left_alone(rds, run_module, source, target):
    result = run_module("cluster_restore", args(target, source["arn"], instance_count=2))
    assert not result.failed, result
    assert instances_of(rds, target) == [(target + "-1", "available"),
                                         (target + "-2", "available")]
    members = describe(rds, target)["DBClusterMembers"]
    assert sorted(m["DBInstanceIdentifier"] for m in members) == [target + "-1", target + "-2"]
    fewer = run_module("cluster_restore", args(target, source["arn"], instance_count=1))
    assert not fewer.failed and not fewer.changed, fewer
    assert fewer["extra_instances"] == [target + "-2"]
    assert any(target + "-2" in str(warning) for warning in fewer.get("warnings", []))
    assert len(instances_of(rds, target)) == 2


def test_name_and_arn_of_the_same_snapshot_are_equivalent(rds, run_module, source, target):
    # An acceptance-owned copy, restored by name, then continued by its ARN.
    copy = unique("crcopy")
    copied = rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=source["arn"],
                                          TargetDBClusterSnapshotIdentifier=copy)
    arn = copied["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    first = run_module("cluster_restore", args(target, copy, wait=False))
    assert not first.failed and first.changed, first
    by_arn = run_module("cluster_restore", args(target, arn))
    assert not by_arn.failed, by_arn
    assert by_arn["complete"]
    assert tags_of(rds, describe(rds, target)["DBClusterArn"])["dbops:source-snapshot"] == copy
    # A different snapshot (production's original, not the copy) is another source.
    other = run_module("cluster_restore", args(target, source["arn"]))
    assert other.failed and "was not restored from" in other["msg"], other
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=copy)


@pytest.mark.parametrize("tags, reason", [
    ({"dbops:source-snapshot": "some-other-snapshot"},
     "was not restored from {snapshot} (its dbops:source-snapshot tag is 'some-other-snapshot')"),
    ({}, "was not restored from {snapshot} (its dbops:source-snapshot tag is missing)"),
    ({"environment": "Production", "dbops:source-snapshot": "{snapshot}"},
     "is tagged environment=production: refusing to touch it"),
])
def test_an_existing_cluster_not_ours_is_refused_untouched(rds, run_module, source, target,
                                                           tags, reason):
    tags = {key: value.format(snapshot=source["arn"]) for key, value in tags.items()}
    rds.create_db_cluster(DBClusterIdentifier=target, Engine="aurora-postgresql",
                          MasterUsername="master", MasterUserPassword=PROD_PASSWORD,
                          Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    before = describe(rds, target)
    for check_mode in (True, False):
        result = run_module("cluster_restore", args(target, source["arn"],
                                                    master_user_password=ACC_PASSWORD),
                            check_mode=check_mode)
        assert result.failed, result
        assert "cluster %s exists and %s" % (target, reason.format(snapshot=source["arn"])) \
            in result["msg"]
        assert result["actions"] == []
    after = describe(rds, target)
    assert instances_of(rds, target) == []
    assert tags_of(rds, after["DBClusterArn"]) == tags
    assert after["DbClusterResourceId"] == before["DbClusterResourceId"]
    # Its password was not reset.
    connect(after, PROD_PASSWORD, dbname="postgres").close()


@pytest.mark.parametrize("change, field, message", [
    ({"db_cluster_identifier": "1-starts-with-a-digit"}, "db_cluster_identifier",
     "must be 1 to 63 letters"),
    ({"db_cluster_identifier": "double--hyphen"}, "db_cluster_identifier",
     "two consecutive hyphens"),
    ({"db_cluster_identifier": "a" * 62}, "db_cluster_identifier",
     "gives instance name"),
    ({"snapshot": "arn:aws:rds:eu-west-1:1111:cluster-snapshot:x"}, "snapshot",
     "is not a cluster snapshot ARN"),
    ({"snapshot": "arn:aws:rds:eu-west-1:111111111111:snapshot:x"}, "snapshot",
     "is not a cluster snapshot ARN"),
    ({"serverless_v2_scaling": {"min_capacity": 0.7, "max_capacity": 4}},
     "serverless_v2_scaling", "min_capacity 0.7 must be a multiple of 0.5"),
    ({"serverless_v2_scaling": {"min_capacity": 4, "max_capacity": 2}},
     "serverless_v2_scaling", "min_capacity 4.0 must not be more than max_capacity 2.0"),
    ({"serverless_v2_scaling": {"min_capacity": 0, "max_capacity": 0.5}},
     "serverless_v2_scaling", "max_capacity 0.5 must be between 1.0 and 256"),
    ({"serverless_v2_scaling": None}, "serverless_v2_scaling",
     "required with instance_class db.serverless"),
    ({"instance_count": 0}, "instance_count", "instance_count 0 must be between 1 and 15"),
    ({"instance_count": 16}, "instance_count", "instance_count 16 must be between 1 and 15"),
    ({"master_user_password": "short"}, "master_user_password", "8 to 128 characters"),
    ({"master_user_password": "has@sign-in-it"}, "master_user_password", "without '/'"),
    ({"tags": {"dbops:credentials": "reset"}}, "tags", "must not set dbops:credentials"),
])
def test_bad_input_fails_before_any_change(rds, run_module, source, emulator, target,
                                           change, field, message):
    params = args(target, source["arn"], master_user_password=ACC_PASSWORD)
    params.update(change)
    emulator.control("calls?reset=1")
    result = run_module("cluster_restore", params)
    calls = emulator.control("calls")
    assert result.failed, result
    assert result["msg"].startswith("Invalid input: ") and message in result["msg"], result
    assert field in result["invalid_fields"]
    assert "has@sign" not in result["msg"] and ACC_PASSWORD not in result["msg"]
    assert calls["total"] == 0, calls  # not even a Describe: nothing can have changed
    assert describe(rds, target) is None


@pytest.mark.parametrize("snap, extra, message", [
    ("{missing}", {}, "no such cluster snapshot visible to this account"),
    ("arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:{missing}", {},
     "no such cluster snapshot visible to this account"),
    ("{mysql_snapshot}", {}, "is of engine aurora-mysql, not aurora-postgresql (engine)"),
    ("{arn}", {"engine_version": "15"}, "is of engine version 16.4, not 15 (engine_version)"),
    ("{arn}", {"engine_version": "16.1"}, "is of engine version 16.4, not 16.1"),
])
def test_unusable_snapshot_fails_before_any_change(rds, run_module, source, target, snap,
                                                   extra, message):
    snap = snap.format(missing=unique("nosuch"), **source)
    result = run_module("cluster_restore", args(target, snap, **extra))
    assert result.failed, result
    assert "snapshot %r" % snap in result["msg"] and message in result["msg"], result
    assert result["actions"] == []
    assert describe(rds, target) is None


def test_snapshot_not_available_yet_is_refused(rds, run_module, settings, target):
    name = unique("crbusy")
    cluster(rds, name)
    settings(creating_seconds=30)
    snapshot(rds, name, name + "-snap")
    result = run_module("cluster_restore", args(target, name + "-snap"))
    assert result.failed and "is creating, not available" in result["msg"], result
    assert describe(rds, target) is None
    settings(creating_seconds=0)
    rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)


def test_a_name_used_before_needs_another_instance_prefix(rds, run_module, source, target):
    """Instances keep their names when their cluster is renamed (a swap): restoring under the
    old name again must not collide with them."""
    first = run_module("cluster_restore", args(target, source["arn"]))
    assert not first.failed, first
    retired = target + "-old"
    rds.modify_db_cluster(DBClusterIdentifier=target, NewDBClusterIdentifier=retired,
                          ApplyImmediately=True)
    try:
        clash = run_module("cluster_restore", args(target, source["arn"]))
        assert clash.failed and "instance_identifier_prefix" in clash["msg"], clash
        again = run_module("cluster_restore", args(target, source["arn"],
                                                   instance_identifier_prefix=target + "-b"))
        assert not again.failed, again
        assert instances_of(rds, target) == [(target + "-b-1", "available")]
        # The prefix is recorded on the cluster: a rerun given another prefix (a resumed
        # refresh names them after its own start time) keeps the instances it has.
        assert tags_of(rds, describe(rds, target)["DBClusterArn"])["dbops:instance-prefix"] == target + "-b"
        resumed = run_module("cluster_restore", args(target, source["arn"],
                                                     instance_identifier_prefix=target + "-c"))
        assert not resumed.failed and not resumed.changed, resumed
        assert instances_of(rds, target) == [(target + "-b-1", "available")]
    finally:
        for instance, dummy in instances_of(rds, retired):
            rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
        rds.delete_db_cluster(DBClusterIdentifier=retired, SkipFinalSnapshot=True)
