"""dbops.aurora.snapshot_prune: retention, pointer protection, in-use snapshots, check mode."""

import time

import pytest

from snapshot_helpers import cluster, find_snapshot, snapshot, unique


def make_series(rds, name, count, prefix=None):
    """``count`` snapshots of cluster ``name``, oldest first."""
    made = []
    for index in range(count):
        made.append(snapshot(rds, name, "%s-%d" % (prefix or name, index)))
        time.sleep(0.01)  # distinct create times
    return [s["DBClusterSnapshotIdentifier"] for s in made]


def existing(rds, names):
    return [name for name in names if find_snapshot(rds, name) is not None]


def by_id(entries):
    return {e["db_cluster_snapshot_identifier"]: e["reason"] for e in entries}


def test_keep_newest_with_pointers_check_mode_and_idempotence(emulator, run_module):
    rds = emulator.client("rds", "acceptance")
    ssm = emulator.client("ssm", "acceptance")
    name = unique("prune")
    cluster(rds, name, engine="aurora-mysql")
    snaps = make_series(rds, name, 6)  # snaps[5] is the newest
    latest, current = "/dbops/%s/latest" % name, "/dbops/%s/current" % name
    arn0 = find_snapshot(rds, snaps[0])["DBClusterSnapshotArn"]
    ssm.put_parameter(Name=latest, Value=arn0, Type="String")  # by ARN
    ssm.put_parameter(Name=current, Value=snaps[1], Type="String")  # by name
    args = {"db_cluster_identifier": name, "keep_newest": 2,
            "protected_parameters": [latest, current, "/dbops/%s/missing" % name]}

    checked = run_module("snapshot_prune", args, check_mode=True, diff=True)
    assert not checked.failed and checked.changed
    assert by_id(checked["deleted"]) == {
        snaps[i]: "beyond retention (not among the 2 newest)" for i in (2, 3)}
    assert by_id(checked["kept"]) == {
        snaps[5]: "one of the 2 newest", snaps[4]: "one of the 2 newest",
        snaps[1]: "referenced by SSM parameter " + current,
        snaps[0]: "referenced by SSM parameter " + latest}
    assert [e["db_cluster_snapshot_identifier"] for e in checked["kept"]] == [
        snaps[5], snaps[4], snaps[1], snaps[0]]  # newest first
    assert existing(rds, snaps) == snaps  # check mode deleted nothing

    pruned = run_module("snapshot_prune", args)
    assert pruned.changed and by_id(pruned["deleted"]) == by_id(checked["deleted"])
    assert existing(rds, snaps) == [snaps[0], snaps[1], snaps[4], snaps[5]]
    again = run_module("snapshot_prune", args)
    assert not again.changed and again["deleted"] == []


def test_keep_days_and_either_rule_keeps(emulator, run_module):
    rds = emulator.client("rds", "acceptance")
    name = unique("prune-days")
    cluster(rds, name, engine="aurora-mysql")
    snaps = make_series(rds, name, 3)
    both = run_module("snapshot_prune", {"db_cluster_identifier": name, "keep_newest": 1,
                                         "keep_days": 1})
    assert not both.changed and by_id(both["kept"]) == {
        snaps[2]: "one of the 1 newest", snaps[1]: "younger than 1 days",
        snaps[0]: "younger than 1 days"}
    none_by_days = run_module("snapshot_prune", {"db_cluster_identifier": name, "keep_days": 0})
    assert by_id(none_by_days["deleted"]) == {
        s: "beyond retention (older than 0 days)" for s in snaps}
    assert existing(rds, snaps) == []


def test_in_use_snapshots_are_kept(emulator, run_module, settings):
    rds = emulator.client("rds", "acceptance")
    name = unique("prune-use")
    cluster(rds, name, version="16.4")  # PostgreSQL: copies and restores can be slow
    snaps = make_series(rds, name, 4)
    arn1 = find_snapshot(rds, snaps[1])["DBClusterSnapshotArn"]
    settings(creating_seconds=120)
    # A copy of snaps[0] still running (its copy is a snapshot of the same cluster)...
    copy = unique("prune-copy")
    rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=snaps[0],
                                 TargetDBClusterSnapshotIdentifier=copy)
    # ...and a restore of snaps[1] still creating, tagged like the refresh tags its clusters.
    restored = unique("prune-restore")
    rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier=restored, SnapshotIdentifier=snaps[1], Engine="aurora-postgresql",
        Tags=[{"Key": "dbops:source-snapshot", "Value": arn1}])
    settings(creating_seconds=0)

    result = run_module("snapshot_prune", {"db_cluster_identifier": name, "keep_newest": 1})
    assert not result.failed, result
    kept = by_id(result["kept"])
    assert kept[copy] == "in use: status copying"
    assert kept[snaps[0]] == "in use: a copy of it (%s) is copying" % copy
    assert kept[snaps[1]] == "in use: cluster %s restored from it is creating" % restored
    assert kept[snaps[3]] == "one of the 1 newest"
    assert by_id(result["deleted"]) == {snaps[2]: "beyond retention (not among the 1 newest)"}
    assert existing(rds, snaps) == [snaps[0], snaps[1], snaps[3]]


def test_identifier_pattern_selects_across_clusters(emulator, run_module):
    rds = emulator.client("rds", "acceptance")
    tag = unique("pat")
    first, second = unique("prune-p1"), unique("prune-p2")
    cluster(rds, first, engine="aurora-mysql")
    cluster(rds, second, engine="aurora-mysql")
    copies = make_series(rds, first, 2, prefix="acc-copy-" + tag) + \
        make_series(rds, second, 2, prefix="acc-copy2-" + tag)
    others = make_series(rds, first, 2, prefix="nightly-" + tag)
    result = run_module("snapshot_prune", {"identifier_pattern": "^acc-copy.*%s" % tag,
                                           "keep_newest": 1})
    assert set(by_id(result["deleted"])) == set(copies[:3])
    assert set(by_id(result["kept"])) == {copies[3]}
    assert existing(rds, others) == others  # not matching: untouched
    # With a cluster too, a snapshot must match both.
    both = run_module("snapshot_prune", {"identifier_pattern": "^nightly-" + tag,
                                         "db_cluster_identifier": second, "keep_newest": 0})
    assert both["deleted"] == [] and both["kept"] == [] and existing(rds, others) == others


def test_throttling_is_retried(emulator, run_module, settings):
    rds = emulator.client("rds", "acceptance")
    name = unique("prune-thr")
    cluster(rds, name, engine="aurora-mysql")
    snaps = make_series(rds, name, 3)
    settings(throttle_rate=0.3, seed=9)
    result = run_module("snapshot_prune", {"db_cluster_identifier": name, "keep_newest": 1,
                                           "protected_parameters": ["/dbops/none/" + name]})
    settings(throttle_rate=0)
    assert not result.failed, result
    assert existing(rds, snaps) == [snaps[2]]


@pytest.mark.parametrize("args, text", [
    ({"keep_newest": 1}, "one of the following is required: db_cluster_identifier"),
    ({"db_cluster_identifier": "c1"}, "one of the following is required: keep_newest"),
    ({"db_cluster_identifier": "c1", "keep_newest": -1}, "keep_newest must be 0 or more"),
    ({"db_cluster_identifier": "c1", "keep_days": -2}, "keep_days must be 0 or more"),
    ({"db_cluster_identifier": "c--1", "keep_newest": 1}, "db_cluster_identifier"),
    ({"identifier_pattern": "[", "keep_newest": 1}, "identifier_pattern"),
    ({"db_cluster_identifier": "c1", "keep_newest": 1,
      "protected_parameters": ["not-a-path"]}, "protected_parameters"),
])
def test_bad_input(emulator, run_module, args, text):
    emulator.control("calls?reset=1")
    result = run_module("snapshot_prune", args)
    assert result.failed and text in result["msg"], result
    assert emulator.control("calls")["total"] == 0


def test_protected_snapshots_are_kept_by_name_or_arn(emulator, run_module):
    """Production cannot read acceptance's pointers: the playbook passes them in instead."""
    rds = emulator.client("rds", "production")
    name = unique("prune-listed")
    cluster(rds, name, engine="aurora-mysql")
    snaps = make_series(rds, name, 4)
    arn1 = find_snapshot(rds, snaps[1])["DBClusterSnapshotArn"]
    result = run_module("snapshot_prune", {"db_cluster_identifier": name, "keep_newest": 1,
                                           "protected_snapshots": [snaps[0].upper(), arn1]},
                        profile="production")
    assert by_id(result["kept"]) == {snaps[3]: "one of the 1 newest",
                                     snaps[1]: "listed in protected_snapshots",
                                     snaps[0]: "listed in protected_snapshots"}
    assert by_id(result["deleted"]) == {snaps[2]: "beyond retention (not among the 1 newest)"}
    assert existing(rds, snaps) == [snaps[0], snaps[1], snaps[3]]


def test_one_credential_keeps_what_acceptance_may_still_copy(emulator, run_module):
    """Production's job cannot read acceptance's pointers (one AWS credential per AWX job):
    shared snapshots younger than keep_shared_hours stay, whatever keep_newest says; a snapshot
    a failed run never shared does not take a retention slot and goes once a newer one is
    shared; the newest unshared one (a share under way) stays."""
    rds = emulator.client("rds", "production")
    name = unique("prune-shared")
    cluster(rds, name, engine="aurora-mysql")
    snaps = make_series(rds, name, 5)
    for index in (0, 1, 3):
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=snaps[index], AttributeName="restore",
            ValuesToAdd=["222222222222"])
    args = {"db_cluster_identifier": name, "keep_newest": 1, "keep_shared_hours": 72,
            "count_shared_only": True}

    checked = run_module("snapshot_prune", args, check_mode=True, profile="production")
    assert not checked.failed, checked
    assert by_id(checked["deleted"]) == {snaps[2]: "never shared, older than a shared "
                                                   "snapshot: left by a run that failed "
                                                   "before sharing it"}
    kept = by_id(checked["kept"])
    assert kept[snaps[4]] == "not shared yet, newer than every shared snapshot"
    assert kept[snaps[3]] == "one of the 1 newest"
    for index in (0, 1):
        assert kept[snaps[index]].startswith("shared with 222222222222 0.0 hours ago, less "
                                             "than keep_shared_hours=72")
    assert {e["db_cluster_snapshot_identifier"]: e["shared_accounts"]
            for e in checked["kept"]}[snaps[0]] == ["222222222222"]

    # Past the hours acceptance may still select a snapshot, retention alone decides.
    pruned = run_module("snapshot_prune", dict(args, keep_shared_hours=0), profile="production")
    assert pruned.changed
    assert sorted(by_id(pruned["deleted"])) == sorted([snaps[0], snaps[1], snaps[2]])
    assert existing(rds, snaps) == [snaps[3], snaps[4]]


def test_keep_shared_hours_must_not_be_negative(emulator, run_module):
    result = run_module("snapshot_prune", {"db_cluster_identifier": "app-prod", "keep_newest": 1,
                                           "keep_shared_hours": -1})
    assert result.failed and result["invalid_fields"] == ["keep_shared_hours"]


def test_a_malformed_protected_snapshot_is_refused(emulator, run_module):
    """A typo in protected_snapshots would protect nothing: refused before any deletion."""
    result = run_module("snapshot_prune", {
        "db_cluster_identifier": "app-prod", "keep_newest": 1,
        "protected_snapshots": ["arn:aws:rds:eu-west-1:11111111111:cluster-snapshot:app-prod-1"]})
    assert result.failed and result["invalid_fields"] == ["protected_snapshots"]
