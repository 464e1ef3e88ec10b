"""The clone refresh's modules against the stand-in: cluster_share (production),
share_invitation and clone_lineage (acceptance), and cluster_restore's clone source."""

import uuid

import pytest

from conftest import ACCEPTANCE
from test_emulator_clone import key_for

PASSWORD = "clone-secret-12"
FAST = {"poll_interval": 0.2, "wait_timeout": 60}


@pytest.fixture()
def name():
    return "cl-%s" % uuid.uuid4().hex[:8]


def production_cluster(emulator, identifier, key=None, instances=1):
    """An aurora-mysql cluster in production (no PostgreSQL behind it: cheap)."""
    rds = emulator.client("rds", "production")
    extra = {"KmsKeyId": key} if key else {}
    arn = rds.create_db_cluster(DBClusterIdentifier=identifier, Engine="aurora-mysql",
                                MasterUsername="master", MasterUserPassword=PASSWORD,
                                StorageEncrypted=True, **extra)["DBCluster"]["DBClusterArn"]
    for index in range(instances):
        rds.create_db_instance(DBInstanceIdentifier="%s-%d" % (identifier, index),
                               DBClusterIdentifier=identifier, Engine="aurora-mysql",
                               DBInstanceClass="db.t3.medium")
    return arn


def shares_named(emulator, share_name):
    shares = emulator.client("ram", "production").get_resource_shares(resourceOwner="SELF")["resourceShares"]
    return [entry for entry in shares if entry["name"] == share_name and entry["status"] == "ACTIVE"]


def test_production_shares_what_acceptance_can_clone_and_refuses_the_rest(emulator, run_module, name):
    kms = emulator.client("kms", "production")
    good = production_cluster(emulator, name, key_for(kms, ACCEPTANCE))
    args = {"db_cluster_identifier": name, "principals": [ACCEPTANCE]}

    plan = run_module("cluster_share", args, check_mode=True, profile="production")
    assert plan.changed and not plan.failed, plan
    assert plan["actions"] == ["create resource share dbops-clone-%s for %s with %s" % (name, good, ACCEPTANCE)]
    assert shares_named(emulator, "dbops-clone-" + name) == []

    made = run_module("cluster_share", args, profile="production")
    assert made.changed and made["cluster_arn"] == good, made
    assert made["principals"] == [{"account_id": ACCEPTANCE, "status": "ASSOCIATING"}]
    assert len(shares_named(emulator, "dbops-clone-" + name)) == 1
    again = run_module("cluster_share", args, profile="production")
    assert not again.changed and again["actions"] == [], again

    # Acceptance accepts; a second run has nothing to accept; another sender has none to give.
    accepted = run_module("share_invitation", {"sender_account_id": "111111111111",
                                               "name": "dbops-clone-" + name})
    assert accepted.changed and accepted["accepted"] == ["dbops-clone-" + name], accepted
    assert not run_module("share_invitation", {"sender_account_id": "111111111111",
                                               "name": "dbops-clone-" + name}).changed
    none = run_module("share_invitation", {"sender_account_id": "333333333333"})
    assert none.failed and "No AWS RAM invitation from account 333333333333" in none["msg"]
    after = run_module("cluster_share", args, profile="production")
    assert after["principals"] == [{"account_id": ACCEPTANCE, "status": "ASSOCIATED"}], after

    # Refused before any change: no instance, the AWS-managed key, a key policy without acceptance.
    bare = production_cluster(emulator, name + "-bare", key_for(kms, ACCEPTANCE), instances=0)
    managed = production_cluster(emulator, name + "-managed")
    private = production_cluster(emulator, name + "-private", key_for(kms))
    for identifier, reason in ((name + "-bare", "has no DB instance"),
                               (name + "-managed", "AWS-managed key"),
                               (name + "-private", "does not grant %s" % ACCEPTANCE)):
        refused = run_module("cluster_share", dict(args, db_cluster_identifier=identifier), profile="production")
        assert refused.failed and reason in refused["msg"] and "Nothing was changed" in refused["msg"], refused
        assert shares_named(emulator, "dbops-clone-" + identifier) == []
    assert bare and managed and private
    bad = run_module("cluster_share", dict(args, principals=["22"]), profile="production")
    assert bad.failed and "principals" in bad["msg"]


def share_and_accept(emulator, run_module, identifier):
    run_module("cluster_share", {"db_cluster_identifier": identifier, "principals": [ACCEPTANCE]},
               profile="production")
    run_module("share_invitation", {"sender_account_id": "111111111111", "name": "dbops-clone-" + identifier})


def test_lineage_refuses_what_aws_would_and_retires_this_environments_clone(emulator, run_module, name):
    source = production_cluster(emulator, name, key_for(emulator.client("kms", "production"), ACCEPTANCE))
    canonical = name + "-acc"
    args = {"source_cluster": source, "canonical_identifier": canonical, "engine": "aurora-mysql"}

    unshared = run_module("clone_lineage", args)
    assert unshared.failed and "is not visible to this account" in unshared["msg"], unshared
    share_and_accept(emulator, run_module, name)
    checked = run_module("clone_lineage", args)
    assert not checked.failed and not checked.changed, checked
    assert checked["source"]["db_cluster_arn"] == source and checked["source"]["instances"] == 1
    assert checked["own"] == [] and checked["refusals"] == []

    rds = emulator.client("rds", "acceptance")

    def clone(identifier):
        rds.restore_db_cluster_to_point_in_time(
            DBClusterIdentifier=identifier, SourceDBClusterIdentifier=source,
            RestoreType="copy-on-write", UseLatestRestorableTime=True,
            Tags=[{"Key": "dbops:refresh-id", "Value": "r0000abcd"}])
        rds.create_db_instance(DBInstanceIdentifier=identifier + "-1", DBClusterIdentifier=identifier,
                               Engine="aurora-mysql", DBInstanceClass="db.t3.medium")

    # Another team's clone of the lineage: refused, nothing changed.
    clone(name + "-other")
    foreign = run_module("clone_lineage", dict(args, state="cleared"))
    assert foreign.failed and "already holds %s-other" % name in foreign["msg"], foreign
    rds.delete_db_instance(DBInstanceIdentifier=name + "-other-1", SkipFinalSnapshot=True)
    rds.delete_db_cluster(DBClusterIdentifier=name + "-other", SkipFinalSnapshot=True)

    # This environment's own clone serving: kept as a final snapshot, then deleted.
    clone(canonical)
    plan = run_module("clone_lineage", dict(args, state="cleared"), check_mode=True)
    final = canonical + "-final-r0000abcd"
    assert plan.changed and plan["own"] == [canonical], plan
    assert plan["actions"] == ["final snapshot %s of %s" % (final, canonical),
                               "delete %s and its instances" % canonical]
    assert rds.describe_db_clusters(DBClusterIdentifier=canonical)["DBClusters"]
    cleared = run_module("clone_lineage", dict(args, **FAST, state="cleared",
                                               final_snapshot_tags={"environment": "acceptance"}))
    assert cleared.changed and cleared["retired"] == [{"identifier": canonical, "final_snapshot": final}], cleared
    assert [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == canonical] == []
    snapshot = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)["DBClusterSnapshots"][0]
    tags = {tag["Key"]: tag["Value"] for tag in snapshot.get("TagList", [])}
    assert tags["dbops:refresh-id"] == "r0000abcd" and tags["environment"] == "acceptance"
    assert tags["dbops:source-cluster"] == source and tags["dbops:retired-at"].endswith("Z")
    assert not run_module("clone_lineage", dict(args, **FAST, state="cleared")).changed

    # Bad input changes nothing.
    bad = run_module("clone_lineage", dict(args, source_cluster=name))
    assert bad.failed and "source_cluster" in bad["msg"]


def test_cluster_restore_clones_with_this_environments_settings(emulator, run_module, name):
    source = production_cluster(emulator, name, key_for(emulator.client("kms", "production"), ACCEPTANCE))
    share_and_accept(emulator, run_module, name)
    args = dict(FAST, db_cluster_identifier=name + "-c", source_cluster=source, engine="aurora-mysql",
                instance_class="db.t3.medium", backup_retention_period=7,
                master_user_password="acceptance-pass-1", tags={"environment": "acceptance"})
    plan = run_module("cluster_restore", args, check_mode=True)
    assert plan["actions"][0] == "clone cluster %s-c from %s (copy-on-write)" % (name, source), plan
    done = run_module("cluster_restore", args)
    assert done.changed and done["complete"] and done["password_reset"], done
    assert any(action.startswith("set BackupRetentionPeriod 7") for action in done["actions"]), done
    cluster = emulator.client("rds", "acceptance").describe_db_clusters(
        DBClusterIdentifier=name + "-c")["DBClusters"][0]
    tags = {tag["Key"]: tag["Value"] for tag in cluster["TagList"]}
    assert tags["dbops:source-cluster"] == source and tags["environment"] == "acceptance"
    assert cluster["BackupRetentionPeriod"] == 7 and cluster.get("CrossAccountClone")
    rerun = run_module("cluster_restore", args)
    assert not rerun.changed and rerun["complete"], rerun
    # A cluster cloned from elsewhere is not continued.
    other = run_module("cluster_restore", dict(args, source_cluster=source.replace(name, name + "-x")))
    assert other.failed and "was not restored from" in other["msg"], other
    both = run_module("cluster_restore", dict(args, snapshot="snap-1"))
    assert both.failed and "mutually exclusive" in both["msg"]
