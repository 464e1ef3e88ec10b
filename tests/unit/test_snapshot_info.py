"""dbops.aurora.snapshot_info: selection over mixed snapshot sets, rejection reasons, paging."""

import math
import time

import pytest

from snapshot_helpers import ACCEPTANCE, cluster, fresh_account, snapshot, unique


@pytest.fixture(scope="module")
def mixed(emulator):
    """Snapshots shared with acceptance by a source account F and another owner O.

    F, cluster A (PostgreSQL 16.4): keep-1, keep-2 (available), keep-3 (still creating),
    other-1 (name does not match ^keep-); F, cluster B (PostgreSQL 14.9): keep-b1;
    F, cluster M (aurora-mysql): keep-m1; O: keep-o1 (PostgreSQL 16.4).
    """
    source, source_session = fresh_account(emulator)
    other, other_session = fresh_account(emulator)
    rds = source_session.client("rds")
    names = {key: unique(key) for key in ("a", "b", "m")}
    cluster(rds, names["a"], version="16.4")
    cluster(rds, names["b"], version="14.9")
    cluster(rds, names["m"], engine="aurora-mysql")
    tag = unique("x")
    made = {}
    for key, cluster_key in (("keep-1", "a"), ("keep-2", "a"), ("other-1", "a"),
                             ("keep-b1", "b"), ("keep-m1", "m")):
        made[key] = snapshot(rds, names[cluster_key], "%s-%s" % (key, tag),
                             share_with=[ACCEPTANCE])
    emulator.configure(creating_seconds=120)
    try:
        made["keep-3"] = snapshot(rds, names["a"], "keep-3-%s" % tag, share_with=[ACCEPTANCE])
    finally:
        emulator.configure(creating_seconds=0)
    other_rds = other_session.client("rds")
    cluster(other_rds, names["a"], version="16.4")  # same cluster name, other owner
    made["keep-o1"] = snapshot(other_rds, names["a"], "keep-o1-%s" % tag,
                               share_with=[ACCEPTANCE])
    return {"source": source, "other": other, "clusters": names, "made": made}


def arns(result):
    return [s["db_cluster_snapshot_arn"] for s in result["snapshots"]]


def test_selects_newest_first_and_explains_rejections(run_module, mixed):
    made = mixed["made"]
    result = run_module("snapshot_info", {"source_account_ids": [mixed["source"]],
                                          "engine": "aurora-postgresql",
                                          "engine_version": "16.4",
                                          "identifier_pattern": "^keep-"})
    assert not result.failed and not result.changed
    assert arns(result) == [made["keep-2"]["DBClusterSnapshotArn"],
                            made["keep-1"]["DBClusterSnapshotArn"]]
    latest = result["latest"]
    assert latest["db_cluster_snapshot_arn"] == made["keep-2"]["DBClusterSnapshotArn"]
    assert latest["owner_account_id"] == mixed["source"]
    assert latest["db_cluster_snapshot_identifier"] == latest["db_cluster_snapshot_arn"]
    assert latest["snapshot_name"] == made["keep-2"]["DBClusterSnapshotIdentifier"]
    assert 0 <= latest["age_hours"] < 1
    # Everything shared by anyone else (other tests too) is "from another account".
    assert result["rejected"] == {"source_account": result["total"] - 6,
                                  "identifier_pattern": 1, "engine": 1,
                                  "engine_version": 1, "status": 1}
    summary = result["rejection_summary"]
    assert summary.startswith("%d from another account, " % (result["total"] - 6))
    assert "1 engine aurora-mysql not aurora-postgresql" in summary
    assert "1 engine version 14.9 not 16.4" in summary
    assert summary.endswith("1 still creating")


def test_source_cluster_major_version_any_status(run_module, mixed):
    made, cluster_a = mixed["made"], mixed["clusters"]["a"]
    by_cluster = run_module("snapshot_info", {"source_account_ids": [mixed["source"]],
                                              "source_cluster_identifier": cluster_a,
                                              "status": "any"})
    assert set(arns(by_cluster)) == {made[k]["DBClusterSnapshotArn"]
                                     for k in ("keep-1", "keep-2", "keep-3", "other-1")}
    assert by_cluster["rejected"]["source_cluster"] == 2
    assert "2 of cluster" in by_cluster["rejection_summary"]
    # Owner O has a cluster of the same name: the account filter still tells them apart.
    both = run_module("snapshot_info", {"source_account_ids": [mixed["source"], mixed["other"]],
                                        "source_cluster_identifier": cluster_a,
                                        "engine_major_version": "16"})
    assert set(arns(both)) == {made[k]["DBClusterSnapshotArn"]
                               for k in ("keep-1", "keep-2", "other-1", "keep-o1")}
    assert both["rejected"]["status"] == 1
    major14 = run_module("snapshot_info", {"source_account_ids": [mixed["source"]],
                                           "engine_major_version": "14"})
    assert arns(major14) == [made["keep-b1"]["DBClusterSnapshotArn"]]
    assert "engine version" in major14["rejection_summary"] and "not 14.x" in \
        major14["rejection_summary"]
    exact = run_module("snapshot_info", {"source_account_ids": [mixed["source"]],
                                         "engine_version": "16"})
    assert exact["snapshots"] == [] and exact["latest"] is None  # exact, not a prefix


def test_max_age(run_module, mixed):
    time.sleep(0.5)
    too_old = run_module("snapshot_info", {"source_account_ids": [mixed["source"]],
                                           "max_age": 0.0001})  # 0.36 seconds
    assert too_old["snapshots"] == [] and too_old["latest"] is None
    assert too_old["rejected"]["max_age"] == 5  # the 6th is rejected for its status first
    assert "5 older than 0.0001 hours" in too_old["rejection_summary"]
    fresh = run_module("snapshot_info", {"source_account_ids": [mixed["source"]],
                                         "max_age": 1})
    assert len(fresh["snapshots"]) == 5 and "max_age" not in fresh["rejected"]


def test_manual_and_automated_types(emulator, run_module):
    rds = emulator.client("rds", "acceptance")
    name = unique("info-own")
    cluster(rds, name, engine="aurora-mysql")
    own = snapshot(rds, name, unique("own"))
    manual = run_module("snapshot_info", {"snapshot_type": "manual",
                                          "source_cluster_identifier": name})
    assert [s["db_cluster_snapshot_identifier"] for s in manual["snapshots"]] == [
        own["DBClusterSnapshotIdentifier"]]
    assert manual["latest"]["owner_account_id"] == ACCEPTANCE
    automated = run_module("snapshot_info", {"snapshot_type": "automated",
                                             "source_cluster_identifier": name})
    # moto, like AWS, takes an automated snapshot of a new cluster; the manual one is not listed.
    assert [s["snapshot_type"] for s in automated["snapshots"]] == ["automated"]
    assert automated["snapshots"][0]["db_cluster_snapshot_identifier"].startswith("rds:" + name)


def test_more_snapshots_than_one_page_in_one_listing(emulator, run_module):
    source, session = fresh_account(emulator)
    rds = session.client("rds")
    name = unique("paged")
    cluster(rds, name, engine="aurora-mysql")
    for index in range(130):
        snapshot(rds, name, "%s-%03d" % (name, index), share_with=[ACCEPTANCE])
    emulator.control("calls?reset=1")
    result = run_module("snapshot_info", {"source_account_ids": [source],
                                          "engine": "aurora-mysql"})
    calls = emulator.control("calls")
    assert len(result["snapshots"]) == 130 and result["total"] >= 130
    assert result["snapshots"][0]["snapshot_name"] == "%s-129" % name
    assert result["snapshots"][-1]["snapshot_name"] == "%s-000" % name
    assert calls["calls"] == {"DescribeDBClusterSnapshots": math.ceil(result["total"] / 100)}


def test_throttling_is_retried(run_module, settings, mixed):
    settings(throttle_rate=0.3, seed=5)
    result = run_module("snapshot_info", {"source_account_ids": [mixed["source"]],
                                          "identifier_pattern": "^keep-"})
    settings(throttle_rate=0)
    assert not result.failed, result
    assert len(result["snapshots"]) == 4


@pytest.mark.parametrize("args, field", [
    ({"source_account_ids": ["1234"]}, "source_account_ids"),
    ({"source_cluster_identifier": "bad--name"}, "source_cluster_identifier"),
    ({"identifier_pattern": "(unclosed"}, "identifier_pattern"),
    ({"max_age": -1}, "max_age"),
    ({"engine_version": "16.4", "engine_major_version": "16"}, "engine_version"),
    ({"snapshot_type": "public"}, "snapshot_type"),
])
def test_bad_input(emulator, run_module, args, field):
    emulator.control("calls?reset=1")
    result = run_module("snapshot_info", args)
    assert result.failed and field in result["msg"], result
    assert emulator.control("calls")["total"] == 0


def test_engine_major_version_must_be_a_number(emulator, run_module):
    result = run_module("snapshot_info", {"snapshot_type": "manual", "engine_major_version": "abc"})
    assert result.failed and result["invalid_fields"] == ["engine_major_version"]
