"""The local AWS stand-in, end to end with stock boto3 and psycopg2 over real HTTP.

Each test names the AWS behaviour it checks; the ones marked "moto gap" are filled by the
emulator (tests/emulator/aws_emulator/rds.py), not by moto itself.
"""

import configparser
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid

import boto3
import botocore.config
import botocore.exceptions
import psycopg2
import pytest

from conftest import ACCEPTANCE, PRODUCTION, free_port, parse_env, run_emulator

PROD_PASSWORD = "production-secret-1"
ACC_PASSWORD = "acceptance-secret-1"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def connect(cluster, password, dbname="app", user="master"):
    return psycopg2.connect(host=cluster["Endpoint"], port=cluster["Port"], user=user,
                            password=password, dbname=dbname, connect_timeout=5)


def create_cluster(rds, identifier, password=PROD_PASSWORD, **extra):
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=identifier, Engine="aurora-postgresql", EngineVersion="16.4",
        MasterUsername="master", MasterUserPassword=password, DatabaseName="app", **extra,
    )["DBCluster"]
    rds.create_db_instance(DBInstanceIdentifier=identifier + "-1", DBClusterIdentifier=identifier,
                           Engine="aurora-postgresql", DBInstanceClass="db.serverless")
    return cluster


def describe(rds, identifier):
    return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


def delete_cluster(rds, identifier):
    for member in describe(rds, identifier)["DBClusterMembers"]:
        rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"],
                               SkipFinalSnapshot=True)
    rds.delete_db_cluster(DBClusterIdentifier=identifier, SkipFinalSnapshot=True)


def count_rows(cluster, password, table="customers"):
    with connect(cluster, password) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(email) FROM %s" % table)
        return cur.fetchone()


def process_running(pid):
    """True while the process exists and is not a zombie waiting for its parent."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_refuses(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_each_profile_is_its_own_account(emulator):
    assert emulator.client("sts", "production").get_caller_identity()["Account"] == PRODUCTION
    assert emulator.client("sts", "acceptance").get_caller_identity()["Account"] == ACCEPTANCE


def test_cluster_is_a_real_postgres_server_with_checked_password(emulator):
    rds = emulator.client("rds", "production")
    name = unique("pg")
    create_cluster(rds, name)
    cluster = describe(rds, name)
    assert cluster["Endpoint"] == "127.0.0.1"
    assert cluster["ReaderEndpoint"] == "127.0.0.1"
    assert cluster["Port"] not in (5432, 3306)
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [name + "-1"]
    instance = rds.describe_db_instances(DBInstanceIdentifier=name + "-1")["DBInstances"][0]
    assert instance["Endpoint"] == {"Address": "127.0.0.1", "Port": cluster["Port"],
                                    **{k: v for k, v in instance["Endpoint"].items()
                                       if k not in ("Address", "Port")}}
    with connect(cluster, PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database(), version()")
        user, database, version = cur.fetchone()
    assert (user, database) == ("master", "app") and version.startswith("PostgreSQL")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(cluster, "not-the-password")
    delete_cluster(rds, name)


def test_snapshot_share_copy_restore_password_rename_delete(emulator):
    """The refresh's path through AWS: production shares, acceptance copies and restores."""
    prod = emulator.client("rds", "production")
    acc = emulator.client("rds", "acceptance")
    source, snap = unique("app-prod"), unique("snap")
    create_cluster(prod, source)
    with connect(describe(prod, source), PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (id int PRIMARY KEY, email text)")
        cur.execute("INSERT INTO customers SELECT g, 'user' || g || '@example.com' "
                    "FROM generate_series(1, 500) g")

    snapshot = prod.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=snap,
                                               DBClusterIdentifier=source)["DBClusterSnapshot"]
    with connect(describe(prod, source), PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO customers VALUES (501, 'after@snapshot')")  # not in the snapshot
    arn = snapshot["DBClusterSnapshotArn"]
    assert arn == "arn:aws:rds:%s:%s:cluster-snapshot:%s" % (
        os.environ["AWS_DEFAULT_REGION"], PRODUCTION, snap)

    # Not shared yet: acceptance can neither see nor copy it (AWS: SnapshotNotFound).
    shared = acc.describe_db_cluster_snapshots(SnapshotType="shared", IncludeShared=True)
    assert arn not in [s["DBClusterSnapshotIdentifier"] for s in shared["DBClusterSnapshots"]]
    with pytest.raises(acc.exceptions.DBClusterSnapshotNotFoundFault):
        acc.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=arn,
                                     TargetDBClusterSnapshotIdentifier=unique("copy"))

    prod.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=snap,
                                              AttributeName="restore",
                                              ValuesToAdd=[ACCEPTANCE])
    # AWS reports a shared snapshot to the other account by its ARN (moto gap).
    shared = acc.describe_db_cluster_snapshots(SnapshotType="shared", IncludeShared=True)
    found = [s for s in shared["DBClusterSnapshots"] if s["DBClusterSnapshotIdentifier"] == arn]
    assert len(found) == 1 and found[0]["Status"] == "available"
    assert found[0]["DBClusterIdentifier"] == source

    # Copy by ARN under an acceptance key (moto gap: cross-account lookup by ARN).
    key = emulator.client("kms", "acceptance").create_key()["KeyMetadata"]["Arn"]
    copy_name = unique("copy")
    copied = acc.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=arn,
                                          TargetDBClusterSnapshotIdentifier=copy_name,
                                          KmsKeyId=key)["DBClusterSnapshot"]
    assert copied["DBClusterSnapshotArn"].split(":")[4] == ACCEPTANCE
    assert copied["KmsKeyId"] == key and copied["StorageEncrypted"]

    restored_names = []
    for source_id in (copy_name, arn):  # from the local copy and from the shared ARN
        name = unique("app-acc")
        restored = acc.restore_db_cluster_from_snapshot(
            DBClusterIdentifier=name, SnapshotIdentifier=source_id, Engine="aurora-postgresql",
            KmsKeyId=key, Tags=[{"Key": "environment", "Value": "acceptance"}],
        )["DBCluster"]
        restored_names.append(name)
        cluster = describe(acc, name)
        assert cluster["DBClusterArn"].split(":")[4] == ACCEPTANCE
        assert cluster["Port"] == restored["Port"]
        # Tags come from the request, never from production's cluster (moto gap).
        assert acc.list_tags_for_resource(ResourceName=cluster["DBClusterArn"])["TagList"] == [
            {"Key": "environment", "Value": "acceptance"}]
        # The restored server holds production's rows as of the snapshot, and production's
        # credentials: exactly why the refresh must reset the master password.
        assert count_rows(cluster, PROD_PASSWORD) == (500, "user100@example.com")

    name = restored_names[0]
    cluster = describe(acc, name)
    acc.modify_db_cluster(DBClusterIdentifier=name, MasterUserPassword=ACC_PASSWORD,
                          ApplyImmediately=True)
    assert count_rows(cluster, ACC_PASSWORD)[0] == 500
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(cluster, PROD_PASSWORD)

    renamed = unique("renamed")
    acc.modify_db_cluster(DBClusterIdentifier=name, NewDBClusterIdentifier=renamed,
                          ApplyImmediately=True)
    with pytest.raises(acc.exceptions.DBClusterNotFoundFault):
        describe(acc, name)
    after = describe(acc, renamed)
    assert after["Port"] == cluster["Port"] and after["Endpoint"] == "127.0.0.1"
    assert count_rows(after, ACC_PASSWORD)[0] == 500  # the same server, renamed

    servers = {s["cluster"]: s for s in emulator.control("servers")}
    pid = servers[renamed]["pid"]
    delete_cluster(acc, renamed)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not port_refuses(after["Port"]):
        time.sleep(0.1)
    assert port_refuses(after["Port"])
    assert renamed not in {s["cluster"] for s in emulator.control("servers")}
    assert not process_running(pid)

    for leftover in restored_names[1:] + [source]:
        delete_cluster(acc if leftover != source else prod, leftover)


def test_delete_with_final_snapshot_keeps_the_data(emulator):
    rds = emulator.client("rds", "production")
    name, final = unique("final"), unique("final-snap")
    create_cluster(rds, name)
    with connect(describe(rds, name), PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers AS SELECT g AS id, 'e' || g AS email "
                    "FROM generate_series(1, 42) g")
    rds.delete_db_instance(DBInstanceIdentifier=name + "-1", SkipFinalSnapshot=True)
    rds.delete_db_cluster(DBClusterIdentifier=name, FinalDBSnapshotIdentifier=final)
    back = unique("back")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier=back, SnapshotIdentifier=final,
                                         Engine="aurora-postgresql")
    assert count_rows(describe(rds, back), PROD_PASSWORD)[0] == 42
    rds.delete_db_cluster(DBClusterIdentifier=back, SkipFinalSnapshot=True)


def test_encrypted_without_key_uses_the_aws_managed_rds_key(emulator):
    """AWS: StorageEncrypted with no KmsKeyId encrypts under alias/aws/rds (moto gap)."""
    rds = emulator.client("rds", "production")
    name = unique("enc")
    cluster = rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql",
                                    MasterUsername="master", MasterUserPassword=PROD_PASSWORD,
                                    StorageEncrypted=True)["DBCluster"]
    kms = emulator.client("kms", "production")
    metadata = kms.describe_key(KeyId=cluster["KmsKeyId"])["KeyMetadata"]
    assert metadata["KeyManager"] == "AWS"
    assert metadata["KeyId"] == kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyId"]
    rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)


def test_shared_snapshot_listing_is_paged_like_aws(emulator):
    """AWS pages DescribeDBClusterSnapshots (MaxRecords 20-100, Marker) (moto gap)."""
    prod = emulator.client("rds", "production")
    acc = emulator.client("rds", "acceptance")
    # aurora-mysql clusters have no PostgreSQL server behind them: cheap snapshots.
    name = unique("paging")
    prod.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-mysql",
                           MasterUsername="admin", MasterUserPassword=PROD_PASSWORD)
    before = len(acc.get_paginator("describe_db_cluster_snapshots").paginate(
        SnapshotType="shared", IncludeShared=True).build_full_result()["DBClusterSnapshots"])
    for index in range(45):
        snap = "%s-%02d" % (name, index)
        prod.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=snap,
                                        DBClusterIdentifier=name)
        prod.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=snap,
                                                  AttributeName="restore",
                                                  ValuesToAdd=[ACCEPTANCE])
    pages = list(acc.get_paginator("describe_db_cluster_snapshots").paginate(
        SnapshotType="shared", IncludeShared=True, PaginationConfig={"PageSize": 20}))
    sizes = [len(page["DBClusterSnapshots"]) for page in pages]
    assert sum(sizes) == before + 45
    assert all(size == 20 for size in sizes[:-1]) and len(sizes) >= 3
    with pytest.raises(botocore.exceptions.ClientError, match="MaxRecords"):
        acc.describe_db_cluster_snapshots(SnapshotType="shared", MaxRecords=5)


def test_creating_seconds_delays_available(emulator, settings):
    settings(creating_seconds=1.5)
    rds = emulator.client("rds", "production")
    name = unique("slow")
    start = time.monotonic()
    create_cluster(rds, name)
    assert describe(rds, name)["Status"] == "creating"
    assert rds.describe_db_instances(DBInstanceIdentifier=name + "-1")[
        "DBInstances"][0]["DBInstanceStatus"] == "creating"
    rds.get_waiter("db_cluster_available").wait(
        DBClusterIdentifier=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    assert time.monotonic() - start >= 1.5
    snap = unique("slow-snap")
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=snap, DBClusterIdentifier=name)
    status = rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=snap)["DBClusterSnapshots"][0]["Status"]
    assert status == "creating"
    settings(creating_seconds=0)
    time.sleep(1.6)
    assert rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=snap)["DBClusterSnapshots"][0]["Status"] == "available"
    delete_cluster(rds, name)


def test_delays_can_be_set_per_kind(emulator, settings):
    """A snapshot can take long while a cluster and its instances come at once, and the other
    way round: each kind's delay overrides creating_seconds, a negative one falls back to it."""
    settings(creating_seconds=0, snapshot_seconds=30, rename_seconds=30)
    assert emulator.control("config")["snapshot_seconds"] == 30
    rds = emulator.client("rds", "production")
    name = unique("kinds")
    create_cluster(rds, name)
    assert describe(rds, name)["Status"] == "available"
    assert rds.describe_db_instances(DBInstanceIdentifier=name + "-1")[
        "DBInstances"][0]["DBInstanceStatus"] == "available"
    snap = unique("kinds-snap")
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=snap, DBClusterIdentifier=name)
    assert rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=snap)["DBClusterSnapshots"][0]["Status"] == "creating"
    renamed = unique("kinds-renamed")
    rds.modify_db_cluster(DBClusterIdentifier=name, NewDBClusterIdentifier=renamed,
                          ApplyImmediately=True)
    assert describe(rds, renamed)["Status"] == "renaming"
    settings(snapshot_seconds=-1, rename_seconds=-1, creating_seconds=0, cluster_seconds=30)
    other = unique("kinds-slow-cluster")
    create_cluster(rds, other)
    assert describe(rds, other)["Status"] == "creating"
    settings(cluster_seconds=-1)
    snap2 = unique("kinds-snap2")
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=snap2, DBClusterIdentifier=renamed)
    assert rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=snap2)["DBClusterSnapshots"][0]["Status"] == "available"
    for identifier in (renamed, other):
        delete_cluster(rds, identifier)


def test_available_at_is_logged_for_delayed_resources(emulator, settings):
    """Emulator only (benchmarks): when each delayed resource turns available, wall clock."""
    emulator.control("available?reset=1")
    settings(creating_seconds=1.0)
    rds = emulator.client("rds", "production")
    name = unique("logged")
    before = time.time()
    create_cluster(rds, name)
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=name, DBClusterIdentifier=name)
    time.sleep(1.1)
    # available from the moment logged on, at the first read (no extra `creating` from moto)
    assert describe(rds, name)["Status"] == "available"
    rds.modify_db_cluster(DBClusterIdentifier=name, NewDBClusterIdentifier=name + "-x",
                          ApplyImmediately=True)
    after = time.time()
    assert describe(rds, name + "-x")["Status"] == "renaming"
    settings(creating_seconds=0)
    entries = {(entry["kind"], entry["identifier"]): entry
               for entry in emulator.control("available")["resources"]}
    assert {(kind, entry["status"]) for (kind, _id), entry in entries.items()} == {
        ("cluster", "creating"), ("instance", "creating"), ("snapshot", "creating"),
        ("cluster", "renaming")}
    assert set(entries) == {("cluster", name), ("instance", name + "-1"), ("snapshot", name),
                            ("cluster", name + "-x")}
    assert entries[("instance", name + "-1")]["cluster"] == name
    for entry in entries.values():
        assert entry["account_id"] == PRODUCTION
        assert before <= entry["since"] <= after
        assert entry["since"] < after - 1.0 or entry["status"] == "renaming"
        assert entry["available_at"] == pytest.approx(entry["since"] + 1.0)
    assert emulator.control("available?reset=1")["resources"]
    assert not emulator.control("available")["resources"]
    time.sleep(1.1)
    assert describe(rds, name + "-x")["Status"] == "available"
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
    delete_cluster(rds, name + "-x")


def test_fault_injection_throttles_and_fails(emulator, settings):
    no_retry = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    ssm = emulator.session("acceptance").client("ssm", config=no_retry)
    settings(throttle_rate=1.0)
    with pytest.raises(botocore.exceptions.ClientError) as error:
        ssm.get_parameters_by_path(Path="/")
    assert error.value.response["Error"]["Code"] == "ThrottlingException"
    rds = emulator.session("acceptance").client("rds", config=no_retry)
    with pytest.raises(botocore.exceptions.ClientError) as error:
        rds.describe_db_clusters()
    assert error.value.response["Error"]["Code"] == "Throttling"
    settings(throttle_rate=0, error_rate=1.0)
    with pytest.raises(botocore.exceptions.ClientError) as error:
        rds.describe_db_clusters()
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    settings(error_rate=0.3, seed=7)
    retrying = emulator.session("acceptance").client(
        "rds", config=botocore.config.Config(retries={"max_attempts": 10, "mode": "standard"}))
    for attempt in range(10):
        # the standard retry mode rides over 5xx
        assert "DBClusters" in retrying.describe_db_clusters(), attempt


def test_api_calls_are_counted(emulator):
    emulator.control("calls?reset=1")
    rds = emulator.client("rds", "acceptance")
    rds.describe_db_clusters()
    rds.describe_db_clusters()
    emulator.client("ssm", "acceptance").describe_parameters()
    calls = emulator.control("calls")
    assert calls["calls"]["DescribeDBClusters"] == 2
    assert calls["calls"]["DescribeParameters"] == 1
    assert calls["total"] == 3


def test_cli_up_refuses_a_busy_port_and_missing_postgres(tmp_path, emulator):
    result = run_emulator("up", "--state-dir", str(tmp_path / "busy"), "--port",
                          str(emulator.port), check=False)
    assert result.returncode == 1
    assert "port %d on 127.0.0.1 is busy" % emulator.port in result.stderr
    assert not (tmp_path / "busy" / "state.json").exists()

    port = free_port()
    env = dict(os.environ, AWS_EMULATOR_PG_BINDIR=str(tmp_path))
    result = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "emulator",
                                          "aws-emulator"), "up", "--state-dir",
                             str(tmp_path / "nopg"), "--port", str(port)],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert "PostgreSQL server binaries" in result.stderr and "apt-get install" in result.stderr
    assert port_refuses(port) and not (tmp_path / "nopg").exists()


def test_cli_down_leaves_no_process_behind(tmp_path):
    state_dir = str(tmp_path / "own")
    port = free_port()
    result = run_emulator("up", "--state-dir", state_dir, "--port", str(port))
    env = parse_env(result.stdout)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:%d" % port
    assert set(env) >= {"AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                        "AWS_DEFAULT_REGION"}
    with open(os.path.join(state_dir, "env.sh"), encoding="utf-8") as env_file:
        assert env_file.read().strip() == result.stdout.strip()
    assert "running" in run_emulator("status", "--state-dir", state_dir).stdout

    credentials = configparser.ConfigParser()
    credentials.read(env["AWS_SHARED_CREDENTIALS_FILE"])
    rds = boto3.client("rds", endpoint_url=env["AWS_ENDPOINT_URL"],
                       region_name=env["AWS_DEFAULT_REGION"],
                       aws_access_key_id=credentials["production"]["aws_access_key_id"],
                       aws_secret_access_key=credentials["production"]["aws_secret_access_key"])
    cluster = rds.create_db_cluster(DBClusterIdentifier="own", Engine="aurora-postgresql",
                                    MasterUsername="master",
                                    MasterUserPassword=PROD_PASSWORD)["DBCluster"]
    with open(os.path.join(state_dir, "state.json"), encoding="utf-8") as state_file:
        state = json.load(state_file)
    with urllib.request.urlopen(env["AWS_ENDPOINT_URL"] + "/_emulator/servers") as response:
        servers = json.loads(response.read())
    pids = [state["pid"]] + [server["pid"] for server in servers]
    assert len(pids) == 2 and all(process_running(pid) for pid in pids)

    run_emulator("down", "--state-dir", state_dir)
    assert not any(process_running(pid) for pid in pids)
    assert port_refuses(port) and port_refuses(cluster["Port"])
    assert not os.path.exists(state_dir) and not os.path.exists(state["socket_dir"])
    assert "not running" in run_emulator("status", "--state-dir", state_dir,
                                         check=False).stdout


def test_automated_snapshot_holds_data_and_goes_with_its_cluster(emulator):
    """AWS: a cluster has automated snapshots that can be copied; deleting the cluster deletes
    them, so the same name can be created again at once (moto gap: it kept them and refused)."""
    rds = emulator.client("rds", "production")
    name = unique("auto")
    create_cluster(rds, name)
    with connect(describe(rds, name), PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers AS SELECT g AS id, 'a' || g AS email "
                    "FROM generate_series(1, 7) g")
    automated = rds.describe_db_cluster_snapshots(DBClusterIdentifier=name,
                                                  SnapshotType="automated")["DBClusterSnapshots"]
    assert len(automated) == 1 and automated[0]["DBClusterSnapshotIdentifier"].startswith("rds:")
    manual = unique("from-auto")
    rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=automated[0]["DBClusterSnapshotIdentifier"],
        TargetDBClusterSnapshotIdentifier=manual)
    restored = unique("auto-restored")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier=restored, SnapshotIdentifier=manual,
                                         Engine="aurora-postgresql")
    assert count_rows(describe(rds, restored), PROD_PASSWORD)[0] == 7
    delete_cluster(rds, name)
    assert rds.describe_db_cluster_snapshots(DBClusterIdentifier=name,
                                             SnapshotType="automated")["DBClusterSnapshots"] == []
    create_cluster(rds, name)  # the same name again, within the same minute
    delete_cluster(rds, name)
    rds.delete_db_cluster(DBClusterIdentifier=restored, SkipFinalSnapshot=True)


def test_instances_stay_members_of_a_renamed_cluster(emulator):
    """AWS: renaming a cluster keeps its instances; DescribeDBClusters still lists them."""
    rds = emulator.client("rds", "acceptance")
    old, new = unique("members"), unique("renamed")
    rds.create_db_cluster(DBClusterIdentifier=old, Engine="aurora-mysql",
                          MasterUsername="admin", MasterUserPassword=ACC_PASSWORD)
    rds.create_db_instance(DBInstanceIdentifier=old + "-1", DBClusterIdentifier=old,
                           Engine="aurora-mysql", DBInstanceClass="db.r6g.large")
    rds.modify_db_cluster(DBClusterIdentifier=old, NewDBClusterIdentifier=new, ApplyImmediately=True)
    members = describe(rds, new)["DBClusterMembers"]
    assert [m["DBInstanceIdentifier"] for m in members] == [old + "-1"]
    instance = rds.describe_db_instances(DBInstanceIdentifier=old + "-1")["DBInstances"][0]
    assert instance["DBClusterIdentifier"] == new
