"""dbops.aurora.cluster_prune against the emulator: which clusters retention keeps and deletes."""

import uuid

import pytest

PASSWORD = "prune-secret-12"
FAST = {"poll_interval": 0.2, "wait_timeout": 60}


@pytest.fixture()
def rds(emulator):
    return emulator.client("rds", "acceptance")


@pytest.fixture()
def canonical():
    return "prune-%s" % uuid.uuid4().hex[:8]


def make_cluster(rds, identifier, protected=False, instances=0, **tags):
    """A cluster; aurora-mysql ones have no PostgreSQL server behind them (cheap)."""
    rds.create_db_cluster(DBClusterIdentifier=identifier, Engine="aurora-mysql",
                          MasterUsername="master", MasterUserPassword=PASSWORD,
                          DeletionProtection=protected,
                          Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    for index in range(instances):
        rds.create_db_instance(DBInstanceIdentifier="%s-i%d" % (identifier, index),
                               DBClusterIdentifier=identifier, Engine="aurora-mysql",
                               DBInstanceClass="db.t3.medium")
    return identifier


def names(rds, canonical):
    return sorted(cluster["DBClusterIdentifier"] for cluster in
                  rds.describe_db_clusters()["DBClusters"]
                  if cluster["DBClusterIdentifier"].startswith(canonical))


def retired(day):
    return {"dbops:retired-at": "2026-11-%02dT00:00:00Z" % day}


def test_keeps_the_last_put_aside_and_deletes_the_rest(rds, run_module, canonical):
    make_cluster(rds, canonical, **{"dbops:phase": "serving"})
    make_cluster(rds, canonical + "-previous-r00000001", **retired(1))
    make_cluster(rds, canonical + "-previous-r00000002", protected=True, instances=1, **retired(3))
    make_cluster(rds, canonical + "-undone-r00000003", **retired(2))
    # Left by a failed run of another refresh, and by one of this refresh (a rerun reuses it).
    make_cluster(rds, canonical + "-r0000000a", **{"dbops:phase": "swap-failed", "dbops:refresh-id": "r0000000a"})
    make_cluster(rds, canonical + "-r0000000b", **{"dbops:phase": "candidate", "dbops:refresh-id": "r0000000b"})
    # Production is never touched, whatever its name.
    make_cluster(rds, canonical + "-previous-r00000000", environment="production")

    args = dict(FAST, canonical_identifier=canonical, keep_previous=1, refresh_id="r0000000b")
    plan = run_module("cluster_prune", args, check_mode=True)
    assert not plan.failed and plan.changed, plan
    assert plan["deleted"] == [] and len(names(rds, canonical)) == 7
    assert [c["identifier"] for c in plan["kept"]] == [canonical + "-previous-r00000002",
                                                       canonical + "-r0000000b"]
    assert sorted(c["identifier"] for c in plan["expired"]) == sorted([
        canonical + "-undone-r00000003", canonical + "-previous-r00000001", canonical + "-r0000000a"])

    result = run_module("cluster_prune", args)
    assert not result.failed and result.changed, result
    assert sorted(result["deleted"]) == sorted(c["identifier"] for c in plan["expired"])
    assert names(rds, canonical) == sorted([canonical, canonical + "-previous-r00000000",
                                            canonical + "-previous-r00000002", canonical + "-r0000000b"])

    again = run_module("cluster_prune", args)
    assert not again.failed and not again.changed and again["deleted"] == []

    # Keeping none deletes the protected one too, its instance first, protection off.
    none_kept = run_module("cluster_prune", dict(args, keep_previous=0))
    assert not none_kept.failed, none_kept
    assert none_kept["unprotected"] == [canonical + "-previous-r00000002"]
    assert names(rds, canonical) == sorted([canonical, canonical + "-previous-r00000000",
                                            canonical + "-r0000000b"])


def test_bad_input_changes_nothing(rds, run_module, canonical):
    make_cluster(rds, canonical + "-previous-r00000001", **retired(1))
    for extra, field in [({"canonical_identifier": "bad--id"}, "canonical_identifier"),
                         ({"refresh_id": "20261201"}, "refresh_id"),
                         ({"keep_previous": -1}, "keep_previous")]:
        args = dict(FAST, canonical_identifier=canonical, keep_previous=0)
        args.update(extra)
        result = run_module("cluster_prune", args)
        assert result.failed and field in result["msg"], (extra, result)
    assert names(rds, canonical) == [canonical + "-previous-r00000001"]


def test_throttling_and_5xx_are_retried(emulator, rds, run_module, canonical, settings):
    make_cluster(rds, canonical + "-previous-r00000001", instances=1, **retired(1))
    make_cluster(rds, canonical + "-previous-r00000002", **retired(2))
    settings(throttle_rate=0.3, error_rate=0.1, seed=5)
    result = run_module("cluster_prune", dict(FAST, canonical_identifier=canonical, keep_previous=1))
    settings(throttle_rate=0, error_rate=0)
    assert not result.failed, result
    assert names(rds, canonical) == [canonical + "-previous-r00000002"]
