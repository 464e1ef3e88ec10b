"""Builders for the snapshot module tests: clusters, snapshots and extra accounts in the emulator."""

import random
import uuid

import boto3

from conftest import ACCEPTANCE, PRODUCTION

PASSWORD = "snapshot-tests-1"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def account_session(emulator, account_id):
    """A session in any account: moto's STS hands out credentials of the role's account."""
    sts = emulator.client("sts", "production")
    credentials = sts.assume_role(RoleArn="arn:aws:iam::%s:role/tests" % account_id,
                                  RoleSessionName="snapshot-tests")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])


def fresh_account(emulator):
    """A new account id of our own, so listings in it are not mixed with other tests'."""
    account_id = "%012d" % random.randrange(400000000000, 999999999999)
    session = account_session(emulator, account_id)
    assert session.client("sts").get_caller_identity()["Account"] == account_id
    return account_id, session


def cluster(rds, name, engine="aurora-postgresql", version=None, **extra):
    """aurora-postgresql clusters run a real PostgreSQL server; aurora-mysql ones are free."""
    params = dict(DBClusterIdentifier=name, Engine=engine, MasterUsername="master",
                  MasterUserPassword=PASSWORD, **extra)
    if version:
        params["EngineVersion"] = version
    return rds.create_db_cluster(**params)["DBCluster"]


def snapshot(rds, cluster_name, name, share_with=None, **extra):
    snap = rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster_name,
                                          DBClusterSnapshotIdentifier=name,
                                          **extra)["DBClusterSnapshot"]
    if share_with:
        rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=name,
                                                 AttributeName="restore",
                                                 ValuesToAdd=list(share_with))
    return snap


def find_snapshot(rds, name):
    """The snapshot, or None (no exception) when there is none."""
    try:
        return rds.describe_db_cluster_snapshots(
            DBClusterSnapshotIdentifier=name)["DBClusterSnapshots"][0]
    except rds.exceptions.DBClusterSnapshotNotFoundFault:
        return None


def shared_with(rds, name):
    attributes = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=name)
    return sorted(value for attribute in attributes["DBClusterSnapshotAttributesResult"][
        "DBClusterSnapshotAttributes"] if attribute["AttributeName"] == "restore"
        for value in attribute["AttributeValues"])


def tags_of(rds, arn):
    return {tag["Key"]: tag["Value"]
            for tag in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


__all__ = ["ACCEPTANCE", "PRODUCTION", "unique", "account_session", "fresh_account", "cluster",
           "snapshot", "find_snapshot", "shared_with", "tags_of"]
