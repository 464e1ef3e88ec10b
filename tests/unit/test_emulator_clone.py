"""Aurora cross-account cloning on the local AWS stand-in, end to end with boto3 and psycopg2.

AWS: production shares a cluster with acceptance through AWS RAM, acceptance accepts the
invitation, then sees the cluster by its ARN and clones it (RestoreDBClusterToPointInTime,
copy-on-write) into its own account.  Moto 5 has none of it; the emulator adds it
(tests/emulator/aws_emulator/ram.py, rds.py, kms.py).  Every test states the AWS behaviour.
"""

import json
import time

import botocore.exceptions
import pytest

from conftest import ACCEPTANCE, PRODUCTION, run_emulator
from test_emulator import PROD_PASSWORD, connect, create_cluster, delete_cluster, describe, unique

OTHER_ACCOUNT = "333333333333"


@pytest.fixture()
def delays(emulator):
    """Emulator delays for one test, all reset afterwards."""
    yield emulator.configure
    emulator.configure(creating_seconds=0, snapshot_seconds=-1, cluster_seconds=-1,
                       instance_seconds=-1, rename_seconds=-1, clone_seconds=-1,
                       restore_seconds_per_mb=0)


def error_code(call, **kwargs):
    """The AWS error code ``call(**kwargs)`` fails with, and its message."""
    with pytest.raises(botocore.exceptions.ClientError) as error:
        call(**kwargs)
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def key_for(kms, *accounts):
    """A customer-managed key granting ``accounts`` what the production key policy template
    (roles/cluster/templates/kms_policy.json.j2) grants them."""
    statements = [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % PRODUCTION},
                   "Action": "kms:*", "Resource": "*"}]
    if accounts:
        principal = {"AWS": ["arn:aws:iam::%s:root" % account for account in accounts]}
        statements += [{"Effect": "Allow", "Principal": principal, "Resource": "*",
                        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                                   "kms:GenerateDataKey*", "kms:DescribeKey"]},
                       {"Effect": "Allow", "Principal": principal, "Resource": "*",
                        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return kms.create_key(Policy=policy)["KeyMetadata"]["Arn"]


def share(emulator, resource_arn, accept=True):
    """Production shares ``resource_arn`` with acceptance; acceptance accepts (or not)."""
    prod_ram = emulator.client("ram", "production")
    share_arn = prod_ram.create_resource_share(name=unique("share"), resourceArns=[resource_arn],
                                               principals=[ACCEPTANCE])[
        "resourceShare"]["resourceShareArn"]
    if accept:
        accept_share(emulator, share_arn)
    return share_arn


def accept_share(emulator, share_arn):
    acc_ram = emulator.client("ram", "acceptance")
    invitation = acc_ram.get_resource_share_invitations(resourceShareArns=[share_arn])[
        "resourceShareInvitations"][0]
    acc_ram.accept_resource_share_invitation(
        resourceShareInvitationArn=invitation["resourceShareInvitationArn"])


def clone(rds, identifier, source, **extra):
    return rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier=identifier, SourceDBClusterIdentifier=source,
        RestoreType="copy-on-write", UseLatestRestorableTime=True, **extra)["DBCluster"]


def insert(cluster, sql):
    with connect(cluster, PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute(sql)


def count(cluster, table="customers"):
    with connect(cluster, PROD_PASSWORD) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM %s" % table)
        return cur.fetchone()[0]


def cheap_cluster(rds, identifier, instance=True, **extra):
    """An aurora-mysql cluster: no PostgreSQL server behind it, for the refusals."""
    cluster = rds.create_db_cluster(DBClusterIdentifier=identifier, Engine="aurora-mysql",
                                    MasterUsername="admin", MasterUserPassword=PROD_PASSWORD,
                                    **extra)["DBCluster"]
    if instance:
        rds.create_db_instance(DBInstanceIdentifier=identifier + "-1",
                               DBClusterIdentifier=identifier, Engine="aurora-mysql",
                               DBInstanceClass="db.r6g.large")
    return cluster


def test_ram_invitations_and_associations(emulator):
    """AWS: an account named by a share is invited (PENDING, its association ASSOCIATING) until
    it accepts (ACCEPTED, ASSOCIATED); AssociateResourceShare adds to a share, validated as a
    new share is, all or nothing; DisassociateResourceShare removes (moto gap: none of it)."""
    prod, acc = emulator.client("ram", "production"), emulator.client("ram", "acceptance")
    region = emulator.env["AWS_DEFAULT_REGION"]
    arns = ["arn:aws:rds:%s:%s:cluster:%s" % (region, PRODUCTION, unique("ram-%d" % index))
            for index in range(3)]
    share_arn = prod.create_resource_share(name=unique("ram-share"), resourceArns=arns[:1],
                                           principals=[ACCEPTANCE])[
        "resourceShare"]["resourceShareArn"]

    def principals(**filters):
        return {entry["associatedEntity"]: (entry["status"], entry["external"])
                for entry in prod.get_resource_share_associations(
                    associationType="PRINCIPAL", resourceShareArns=[share_arn], **filters)[
                    "resourceShareAssociations"]}

    invitations = acc.get_resource_share_invitations(resourceShareArns=[share_arn])[
        "resourceShareInvitations"]
    assert len(invitations) == 1
    invitation = invitations[0]
    assert (invitation["status"], invitation["senderAccountId"], invitation["receiverAccountId"],
            invitation["resourceShareArn"]) == ("PENDING", PRODUCTION, ACCEPTANCE, share_arn)
    assert invitation["resourceShareInvitationArn"].startswith(
        "arn:aws:ram:%s:%s:resource-share-invitation/" % (region, PRODUCTION))
    assert invitation["resourceShareName"] and invitation["invitationTimestamp"]
    assert not prod.get_resource_share_invitations(resourceShareArns=[share_arn])[
        "resourceShareInvitations"]
    assert principals() == {ACCEPTANCE: ("ASSOCIATING", True)}
    assert principals(associationStatus="ASSOCIATED") == {}

    invitation_arn = invitation["resourceShareInvitationArn"]
    assert error_code(prod.accept_resource_share_invitation,
                      resourceShareInvitationArn=invitation_arn)[0] == \
        "ResourceShareInvitationArnNotFoundException"  # addressed to acceptance only
    accepted = acc.accept_resource_share_invitation(resourceShareInvitationArn=invitation_arn)
    assert accepted["resourceShareInvitation"]["status"] == "ACCEPTED"
    assert error_code(acc.accept_resource_share_invitation,
                      resourceShareInvitationArn=invitation_arn)[0] == \
        "ResourceShareInvitationAlreadyAcceptedException"
    assert principals() == {ACCEPTANCE: ("ASSOCIATED", True)}

    added = prod.associate_resource_share(resourceShareArn=share_arn, resourceArns=arns[1:2],
                                          principals=[OTHER_ACCOUNT])["resourceShareAssociations"]
    assert {(entry["associatedEntity"], entry["status"]) for entry in added} == {
        (arns[1], "ASSOCIATING"), (OTHER_ACCOUNT, "ASSOCIATING")}
    assert principals() == {ACCEPTANCE: ("ASSOCIATED", True), OTHER_ACCOUNT: ("ASSOCIATING", True)}
    assert error_code(prod.associate_resource_share, resourceShareArn=share_arn,
                      resourceArns=arns[2:], principals=["not-an-account"])[0] == \
        "InvalidParameterException"
    assert error_code(prod.associate_resource_share, resourceShareArn=share_arn + "x",
                      principals=[OTHER_ACCOUNT])[0] == "UnknownResourceException"
    resources = prod.get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=[share_arn])["resourceShareAssociations"]
    assert {(entry["associatedEntity"], entry["status"]) for entry in resources} == {
        (arns[0], "ASSOCIATED"), (arns[1], "ASSOCIATED")}  # arns[2] not added: all or nothing

    prod.disassociate_resource_share(resourceShareArn=share_arn, principals=[ACCEPTANCE])
    assert set(principals()) == {OTHER_ACCOUNT}
    assert not acc.get_resource_share_invitations(resourceShareArns=[share_arn])[
        "resourceShareInvitations"]
    prod.delete_resource_share(resourceShareArn=share_arn)


def test_cross_account_clone_end_to_end(emulator):
    """AWS: once acceptance accepted the share, it describes production's cluster by ARN and
    clones it: the clone holds the data of that moment, the source's master user and password,
    the request's tags and key, the source's CloneGroupId; one clone of a lineage per account."""
    prod, acc = emulator.client("rds", "production"), emulator.client("rds", "acceptance")
    source = unique("clone-src")
    create_cluster(prod, source, KmsKeyId=key_for(emulator.client("kms", "production"),
                                                  ACCEPTANCE),
                   Tags=[{"Key": "env", "Value": "production"}])
    insert(describe(prod, source), "CREATE TABLE customers AS SELECT g AS id FROM "
                                   "generate_series(1, 50) g")
    arn, group = describe(prod, source)["DBClusterArn"], describe(prod, source)["CloneGroupId"]
    assert len(group) == 36

    share_arn = share(emulator, arn, accept=False)
    assert error_code(acc.describe_db_clusters, DBClusterIdentifier=arn)[0] == \
        "DBClusterNotFoundFault"
    assert error_code(clone, rds=acc, identifier=unique("early"), source=arn)[0] == \
        "DBClusterNotFoundFault"
    accept_share(emulator, share_arn)

    seen = describe(acc, arn)
    assert (seen["DBClusterArn"], seen["DBClusterIdentifier"], seen["CloneGroupId"]) == \
        (arn, source, group)
    assert [member["DBInstanceIdentifier"] for member in seen["DBClusterMembers"]] == \
        [source + "-1"]
    assert arn in [c["DBClusterArn"] for c in acc.describe_db_clusters(IncludeShared=True)[
        "DBClusters"]]
    assert arn not in [c["DBClusterArn"] for c in acc.describe_db_clusters()["DBClusters"]]

    taken = unique("taken")
    cheap_cluster(acc, taken, instance=False)
    assert error_code(clone, rds=acc, identifier=taken, source=arn)[0] == \
        "DBClusterAlreadyExistsFault"
    acc.delete_db_cluster(DBClusterIdentifier=taken, SkipFinalSnapshot=True)
    code, message = error_code(acc.restore_db_cluster_to_point_in_time,
                               DBClusterIdentifier=unique("full"), SourceDBClusterIdentifier=arn,
                               RestoreType="full-copy", UseLatestRestorableTime=True)
    assert code == "InvalidParameterValue" and "copy-on-write" in message

    acc_key = emulator.client("kms", "acceptance").create_key()["KeyMetadata"]["Arn"]
    first = unique("clone")
    clone(acc, first, arn, KmsKeyId=acc_key, Tags=[{"Key": "purpose", "Value": "clone"}])
    insert(describe(prod, source), "INSERT INTO customers VALUES (51)")  # after the clone
    copy = describe(acc, first)
    assert (copy["CloneGroupId"], copy["CrossAccountClone"], copy["KmsKeyId"],
            copy["StorageEncrypted"]) == (group, True, acc_key, True)
    assert copy["TagList"] == [{"Key": "purpose", "Value": "clone"}]
    assert (copy["Engine"], copy["EngineVersion"], copy["MasterUsername"],
            copy["DatabaseName"]) == ("aurora-postgresql", "16.4", "master", "app")
    assert copy["DBClusterArn"].split(":")[4] == ACCEPTANCE and copy["Port"] != seen["Port"]
    assert count(copy) == 50 and count(describe(prod, source)) == 51

    code, message = error_code(clone, rds=acc, identifier=unique("second"), source=arn)
    assert code == "InvalidDBClusterStateFault" and first in message
    acc.delete_db_cluster(DBClusterIdentifier=first, SkipFinalSnapshot=True)
    again = unique("clone-again")
    assert count(clone(acc, again, arn, KmsKeyId=acc_key)) == 51
    acc.delete_db_cluster(DBClusterIdentifier=again, SkipFinalSnapshot=True)
    emulator.client("ram", "production").delete_resource_share(resourceShareArn=share_arn)
    assert error_code(acc.describe_db_clusters, DBClusterIdentifier=arn)[0] == \
        "DBClusterNotFoundFault"
    delete_cluster(prod, source)


def test_cross_account_clone_refusals(emulator):
    """AWS refuses, creating nothing: a source in another region, one under the AWS-managed
    key, one whose key policy does not grant the cloning account, one without an instance."""
    prod, acc = emulator.client("rds", "production"), emulator.client("rds", "acceptance")
    prod_kms = emulator.client("kms", "production")
    before = {c["DBClusterIdentifier"] for c in acc.describe_db_clusters()["DBClusters"]}
    code, message = error_code(clone, rds=acc, identifier=unique("region"),
                               source="arn:aws:rds:us-east-1:%s:cluster:x" % PRODUCTION)
    assert code == "InvalidParameterValue" and "cross-region" in message.lower()

    cases = [("aws-managed", dict(StorageEncrypted=True), True, "KMSKeyNotAccessibleFault",
              "AWS-managed"),
             ("ungranted", dict(KmsKeyId=key_for(prod_kms)), True, "KMSKeyNotAccessibleFault",
              ACCEPTANCE),
             ("no-instance", dict(KmsKeyId=key_for(prod_kms, ACCEPTANCE)), False,
              "InvalidDBClusterStateFault", "no DB instance")]
    for label, extra, instance, expected, words in cases:
        name = unique(label)
        arn = cheap_cluster(prod, name, instance=instance, **extra)["DBClusterArn"]
        share_arn = share(emulator, arn)
        code, message = error_code(clone, rds=acc, identifier=unique("refused"), source=arn)
        assert (code, words in message) == (expected, True), (label, message)
        emulator.client("ram", "production").delete_resource_share(resourceShareArn=share_arn)
        if instance:
            prod.delete_db_instance(DBInstanceIdentifier=name + "-1", SkipFinalSnapshot=True)
        prod.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    assert {c["DBClusterIdentifier"] for c in acc.describe_db_clusters()["DBClusters"]} == before


def test_clone_delay_same_account_clone_and_default_key(emulator, delays):
    """AWS: a clone takes a constant time (``clone_seconds`` here); a same-account clone by
    name keeps the source's encryption and clone group, reports CrossAccountClone false; a
    cross-account clone without KmsKeyId is encrypted with the cloning account's aws/rds key;
    a cluster restored from a snapshot starts a clone group of its own."""
    assert delays(clone_seconds=1.0)["clone_seconds"] == 1.0
    prod, acc = emulator.client("rds", "production"), emulator.client("rds", "acceptance")
    source = unique("same")
    create_cluster(prod, source)
    insert(describe(prod, source), "CREATE TABLE customers AS SELECT g AS id FROM "
                                   "generate_series(1, 7) g")
    group = describe(prod, source)["CloneGroupId"]
    local = unique("local-clone")
    start = time.monotonic()
    clone(prod, local, source)
    assert describe(prod, local)["Status"] == "creating"
    prod.get_waiter("db_cluster_available").wait(
        DBClusterIdentifier=local, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    assert time.monotonic() - start >= 1.0
    copy = describe(prod, local)
    assert (copy["CloneGroupId"], copy["CrossAccountClone"], copy["StorageEncrypted"]) == \
        (group, False, False)
    assert count(copy) == 7

    share_arn = share(emulator, describe(prod, source)["DBClusterArn"])
    remote = unique("remote-clone")
    copy = clone(acc, remote, describe(prod, source)["DBClusterArn"])
    aws_rds_key = emulator.client("kms", "acceptance").describe_key(KeyId="alias/aws/rds")[
        "KeyMetadata"]["Arn"]
    assert (copy["StorageEncrypted"], copy["KmsKeyId"]) == (True, aws_rds_key)
    assert describe(acc, remote)["Status"] == "creating"

    prod.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=source, DBClusterIdentifier=source)
    restored = unique("restored")
    prod.restore_db_cluster_from_snapshot(DBClusterIdentifier=restored, SnapshotIdentifier=source,
                                          Engine="aurora-postgresql")
    assert describe(prod, restored)["CloneGroupId"] not in (group, None)
    for rds, name in ((prod, local), (acc, remote), (prod, restored)):
        rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    prod.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=source)
    emulator.client("ram", "production").delete_resource_share(resourceShareArn=share_arn)
    delete_cluster(prod, source)


def test_restore_time_grows_with_snapshot_size_clone_time_does_not(emulator, delays):
    """Emulator only (benchmarks): ``restore_seconds_per_mb`` keeps a cluster restored from a
    snapshot ``creating`` that much longer per MB of data; a clone takes ``clone_seconds``."""
    result = run_emulator("config", "--state-dir", emulator.state_dir, "--clone-seconds", "0",
                          "--restore-seconds-per-mb", "0.05")
    settings = json.loads(result.stdout)
    assert (settings["clone_seconds"], settings["restore_seconds_per_mb"]) == (0, 0.05)
    prod = emulator.client("rds", "production")
    source = unique("sized")
    create_cluster(prod, source)
    small, large = source + "-small", source + "-large"
    prod.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=small, DBClusterIdentifier=source)
    insert(describe(prod, source), "CREATE TABLE padding AS SELECT g AS id, repeat('x', 1000) "
                                   "AS filler FROM generate_series(1, 20000) g")
    prod.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=large, DBClusterIdentifier=source)
    emulator.control("available?reset=1")
    for snapshot in (small, large):
        prod.restore_db_cluster_from_snapshot(DBClusterIdentifier=snapshot,
                                              SnapshotIdentifier=snapshot,
                                              Engine="aurora-postgresql")
        assert describe(prod, snapshot)["Status"] == "creating"
    quick = unique("quick-clone")
    clone(prod, quick, source)
    seconds = {entry["identifier"]: entry["available_at"] - entry["since"]
               for entry in emulator.control("available")["resources"]
               if entry["account_id"] == PRODUCTION}
    assert quick not in seconds and describe(prod, quick)["Status"] == "available"
    assert 1.0 < seconds[small] < seconds[large] - 0.5  # 20,000 rows of 1 kB: over 20 MB more
    for name in (small, large, quick):
        prod.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    for snapshot in (small, large):
        prod.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot)
    delete_cluster(prod, source)


def test_describe_key_across_accounts(emulator):
    """AWS: another account's key is described by its ARN when its key policy grants the
    caller kms:DescribeKey; an AWS-managed key never is (moto gap: looked up in the caller's
    account)."""
    prod, acc = emulator.client("kms", "production"), emulator.client("kms", "acceptance")
    granted, private = key_for(prod, ACCEPTANCE), key_for(prod)
    described = acc.describe_key(KeyId=granted)["KeyMetadata"]
    assert (described["Arn"], described["KeyManager"]) == (granted, "CUSTOMER")
    assert error_code(acc.describe_key, KeyId=private)[0] == "AccessDeniedException"
    managed = prod.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    prod.put_key_policy(KeyId=managed, PolicyName="default", Policy=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*",
                        "Resource": "*"}]}))
    code, message = error_code(acc.describe_key, KeyId=managed)
    assert code == "AccessDeniedException" and "kms:DescribeKey" in message
    assert error_code(acc.describe_key, KeyId=granted[:-4] + "0000")[0] == "NotFoundException"
    assert prod.describe_key(KeyId=private)["KeyMetadata"]["Arn"] == private  # owner: as before
