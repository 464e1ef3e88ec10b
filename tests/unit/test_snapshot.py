"""dbops.aurora.snapshot against the emulator: create, copy, share, tag, wait, delete."""

import pytest

from snapshot_helpers import (ACCEPTANCE, PRODUCTION, cluster, find_snapshot, shared_with,
                              snapshot, tags_of, unique)


@pytest.fixture(scope="module")
def prod_cluster(emulator):
    """One PostgreSQL cluster in production, unencrypted, to take snapshots of."""
    name = unique("snap-src")
    cluster(emulator.client("rds", "production"), name, version="16.4")
    return name


@pytest.fixture(scope="module")
def prod_key(emulator):
    return emulator.client("kms", "production").create_key()["KeyMetadata"]["Arn"]


def test_create_wait_tag_and_idempotent(emulator, run_module, prod_cluster):
    rds = emulator.client("rds", "production")
    name = unique("Snap-Create")  # upper case: RDS stores names lower case
    args = {"db_cluster_snapshot_identifier": name, "db_cluster_identifier": prod_cluster,
            "tags": {"purpose": "test", "dbops:phase": "share"}}
    first = run_module("snapshot", args, profile="production")
    assert not first.failed, first
    assert first.changed and first["actions"] == [
        "create snapshot %s of cluster %s" % (name, prod_cluster)]
    assert first["snapshot"]["status"] == "available"
    assert first["snapshot"]["db_cluster_snapshot_identifier"] == name.lower()
    assert first["snapshot"]["owner_account_id"] == PRODUCTION
    assert first["snapshot"]["tags"] == {"purpose": "test", "dbops:phase": "share"}
    assert first["shared_accounts"] == [] and isinstance(first["waited_seconds"], float)
    live = find_snapshot(rds, name.lower())
    assert live["DBClusterIdentifier"] == prod_cluster and live["SnapshotType"] == "manual"
    assert tags_of(rds, live["DBClusterSnapshotArn"]) == {"purpose": "test", "dbops:phase": "share"}

    second = run_module("snapshot", args, profile="production")
    assert not second.failed and not second.changed and second["actions"] == []
    assert second["snapshot"]["snapshot_create_time"] == first["snapshot"]["snapshot_create_time"]


def test_check_mode_creates_nothing(emulator, run_module, prod_cluster):
    rds = emulator.client("rds", "production")
    name = unique("snap-check")
    result = run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                                     "db_cluster_identifier": prod_cluster,
                                     "shared_accounts": [ACCEPTANCE]},
                        check_mode=True, diff=True, profile="production")
    assert not result.failed and result.changed
    assert result["actions"] == ["create snapshot %s of cluster %s" % (name, prod_cluster),
                                 "share with %s" % ACCEPTANCE]
    assert result["diff"]["before"]["exists"] is False
    assert result["diff"]["after"]["shared_accounts"] == [ACCEPTANCE]
    assert result["snapshot"]["db_cluster_snapshot_identifier"] == name
    assert find_snapshot(rds, name) is None


def test_tags_change_purge_and_check_mode(emulator, run_module, prod_cluster):
    rds = emulator.client("rds", "production")
    name = unique("snap-tags")
    base = {"db_cluster_snapshot_identifier": name, "db_cluster_identifier": prod_cluster}
    created = run_module("snapshot", dict(base, tags={"a": "1", "b": "2"}), profile="production")
    arn = created["snapshot"]["db_cluster_snapshot_arn"]

    checked = run_module("snapshot", dict(base, tags={"a": "9"}), check_mode=True, diff=True,
                         profile="production")
    assert checked.changed and checked["diff"]["after"]["tags"] == {"a": "9"}
    assert tags_of(rds, arn) == {"a": "1", "b": "2"}

    kept = run_module("snapshot", dict(base, tags={"c": "3"}, purge_tags=False),
                      profile="production")
    assert kept.changed and tags_of(rds, arn) == {"a": "1", "b": "2", "c": "3"}
    purged = run_module("snapshot", dict(base, tags={"a": "9"}), profile="production")
    assert purged.changed and tags_of(rds, arn) == {"a": "9"}
    assert purged["snapshot"]["tags"] == {"a": "9"}
    untouched = run_module("snapshot", base, profile="production")  # no tags: leave them
    assert not untouched.changed and tags_of(rds, arn) == {"a": "9"}


def test_share_purge_and_check_mode(emulator, run_module, prod_cluster):
    rds = emulator.client("rds", "production")
    name = unique("snap-share")
    base = {"db_cluster_snapshot_identifier": name, "db_cluster_identifier": prod_cluster}
    shared = run_module("snapshot", dict(base, shared_accounts=[ACCEPTANCE]),
                        profile="production")
    assert shared.changed and shared["shared_accounts"] == [ACCEPTANCE]
    assert shared_with(rds, name) == [ACCEPTANCE]
    # acceptance sees it, by ARN
    acc = emulator.client("rds", "acceptance")
    arn = shared["snapshot"]["db_cluster_snapshot_arn"]
    assert acc.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=arn, SnapshotType="shared",
                                             IncludeShared=True)["DBClusterSnapshots"]
    again = run_module("snapshot", dict(base, shared_accounts=[ACCEPTANCE]), profile="production")
    assert not again.changed

    other = "333333333333"
    checked = run_module("snapshot", dict(base, shared_accounts=[other]), check_mode=True,
                         profile="production")
    assert checked.changed and checked["shared_accounts"] == [other]
    assert checked["actions"] == ["share with %s; stop sharing with %s" % (other, ACCEPTANCE)]
    assert shared_with(rds, name) == [ACCEPTANCE]

    added = run_module("snapshot", dict(base, shared_accounts=[other],
                                        purge_shared_accounts=False), profile="production")
    assert added.changed and shared_with(rds, name) == [ACCEPTANCE, other]
    purged = run_module("snapshot", dict(base, shared_accounts=[other]), profile="production")
    assert purged.changed and shared_with(rds, name) == [other]
    unshared = run_module("snapshot", dict(base, shared_accounts=[]), profile="production")
    assert unshared.changed and shared_with(rds, name) == []


def test_at_most_twenty_accounts(emulator, run_module, prod_cluster):
    rds = emulator.client("rds", "production")
    name = unique("snap-limit")
    accounts = ["%012d" % (500000000000 + index) for index in range(21)]
    base = {"db_cluster_snapshot_identifier": name, "db_cluster_identifier": prod_cluster}
    too_many = run_module("snapshot", dict(base, shared_accounts=accounts), profile="production")
    assert too_many.failed and "shared_accounts" in too_many["msg"]
    assert "at most 20" in too_many["msg"] and find_snapshot(rds, name) is None

    exactly = run_module("snapshot", dict(base, shared_accounts=accounts[:20]),
                         profile="production")
    assert not exactly.failed and len(shared_with(rds, name)) == 20
    # Adding a 21st without purging would exceed the limit: refused, nothing changed.
    over = run_module("snapshot", dict(base, shared_accounts=accounts[20:],
                                       purge_shared_accounts=False), profile="production")
    assert over.failed and "at most 20" in over["msg"]
    assert shared_with(rds, name) == sorted(accounts[:20])


def test_refuses_to_share_aws_managed_key_and_copy_fixes_it(emulator, run_module, prod_key):
    rds = emulator.client("rds", "production")
    source = unique("snap-enc")
    cluster(rds, source, engine="aurora-mysql", StorageEncrypted=True)  # aws/rds key
    name = unique("snap-awskey")
    refused = run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                                      "db_cluster_identifier": source,
                                      "shared_accounts": [ACCEPTANCE]}, profile="production")
    assert refused.failed
    assert "aws/rds" in refused["msg"] and "customer-managed key" in refused["msg"]
    assert "source_snapshot" in refused["msg"] and "kms_key_id" in refused["msg"]
    assert find_snapshot(rds, name) is None  # refused before creating anything

    # Unshared, the snapshot is fine; sharing it later is refused too.
    plain = run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                                    "db_cluster_identifier": source}, profile="production")
    assert not plain.failed and plain["shareable"] is False
    later = run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                                    "shared_accounts": [ACCEPTANCE]}, profile="production")
    assert later.failed and "aws/rds" in later["msg"] and shared_with(rds, name) == []
    # Naming the default key by alias for the copy is refused as well.
    by_alias = run_module("snapshot", {"db_cluster_snapshot_identifier": unique("snap-alias"),
                                       "source_snapshot": name, "kms_key_id": "alias/aws/rds",
                                       "shared_accounts": [ACCEPTANCE]}, profile="production")
    assert by_alias.failed and "aws/rds" in by_alias["msg"]

    # What the message says to do works: copy under a customer-managed key, share the copy.
    copy = unique("snap-cmk")
    fixed = run_module("snapshot", {"db_cluster_snapshot_identifier": copy,
                                    "source_snapshot": name, "kms_key_id": prod_key,
                                    "shared_accounts": [ACCEPTANCE]}, profile="production")
    assert not fixed.failed, fixed
    assert fixed["snapshot"]["kms_key_id"] == prod_key and fixed["shareable"] is True
    assert shared_with(rds, copy) == [ACCEPTANCE]


def test_copy_shared_snapshot_by_arn_into_acceptance(emulator, run_module, prod_key):
    prod = emulator.client("rds", "production")
    acc = emulator.client("rds", "acceptance")
    source = unique("snap-xacct")
    cluster(prod, source, version="16.4", KmsKeyId=prod_key)
    shared = snapshot(prod, source, unique("shared"), share_with=[ACCEPTANCE])
    arn = shared["DBClusterSnapshotArn"]
    acc_key = emulator.client("kms", "acceptance").create_key()["KeyMetadata"]["Arn"]
    name = unique("acc-copy")
    args = {"db_cluster_snapshot_identifier": name, "source_snapshot": arn,
            "kms_key_id": acc_key, "engine": "aurora-postgresql",
            "tags": {"dbops:source-snapshot": arn}}

    no_key = run_module("snapshot", dict(args, kms_key_id=None))
    assert no_key.failed and "kms_key_id" in no_key["msg"] and "shared by another" in no_key["msg"]
    assert find_snapshot(acc, name) is None

    checked = run_module("snapshot", args, check_mode=True)
    assert checked.changed and checked["actions"] == ["copy snapshot %s to %s" % (arn, name)]
    assert find_snapshot(acc, name) is None

    copied = run_module("snapshot", args)
    assert not copied.failed, copied
    assert copied["snapshot"]["owner_account_id"] == ACCEPTANCE
    live = find_snapshot(acc, name)
    assert live["KmsKeyId"] == acc_key and live["StorageEncrypted"]
    assert live["SourceDBClusterSnapshotArn"] == arn and live["Status"] == "available"
    assert tags_of(acc, live["DBClusterSnapshotArn"]) == {"dbops:source-snapshot": arn}
    again = run_module("snapshot", args)
    assert not again.failed and not again.changed


def test_wait_for_available_and_timeout(emulator, run_module, settings, prod_cluster):
    rds = emulator.client("rds", "production")
    settings(creating_seconds=1.5)
    waited = run_module("snapshot", {"db_cluster_snapshot_identifier": unique("snap-wait"),
                                     "db_cluster_identifier": prod_cluster},
                        profile="production")
    assert not waited.failed and waited["snapshot"]["status"] == "available"
    assert waited["waited_seconds"] >= 1.0

    name = unique("snap-nowait")
    quick = run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                                    "db_cluster_identifier": prod_cluster, "wait": False},
                       profile="production")
    assert not quick.failed and quick["snapshot"]["status"] == "creating"
    assert quick["waited_seconds"] == 0

    settings(creating_seconds=30)
    late = unique("snap-late")
    timeout = run_module("snapshot", {"db_cluster_snapshot_identifier": late,
                                      "db_cluster_identifier": prod_cluster,
                                      "wait_timeout": 1}, profile="production")
    assert timeout.failed and "still creating" in timeout["msg"]
    assert "wait_timeout" in timeout["msg"]
    assert find_snapshot(rds, late)["Status"] == "creating"


def test_absent_deletes_check_mode_and_idempotent(emulator, run_module, prod_cluster):
    rds = emulator.client("rds", "production")
    name = unique("snap-del")
    run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                            "db_cluster_identifier": prod_cluster}, profile="production")
    args = {"db_cluster_snapshot_identifier": name, "state": "absent"}
    checked = run_module("snapshot", args, check_mode=True, profile="production")
    assert checked.changed and checked["actions"] == ["delete snapshot %s" % name]
    assert find_snapshot(rds, name) is not None
    deleted = run_module("snapshot", args, profile="production")
    assert deleted.changed and deleted["snapshot"] is None and find_snapshot(rds, name) is None
    again = run_module("snapshot", args, profile="production")
    assert not again.failed and not again.changed


@pytest.mark.parametrize("args, field, rule", [
    ({"db_cluster_snapshot_identifier": "1starts-with-digit"}, "db_cluster_snapshot_identifier",
     "start with a letter"),
    ({"db_cluster_snapshot_identifier": "double--hyphen"}, "db_cluster_snapshot_identifier",
     "two consecutive hyphens"),
    ({"db_cluster_snapshot_identifier": "trailing-"}, "db_cluster_snapshot_identifier",
     "end with a hyphen"),
    ({"db_cluster_snapshot_identifier": "under_score"}, "db_cluster_snapshot_identifier",
     "letters, digits or hyphens"),
    ({"db_cluster_snapshot_identifier": "a" * 64}, "db_cluster_snapshot_identifier",
     "1 to 63"),
    ({"db_cluster_identifier": "bad--cluster"}, "db_cluster_identifier", "hyphens"),
    ({"source_snapshot": "arn:aws:rds:eu-west-1:1111:cluster-snapshot:x"}, "source_snapshot",
     "is not a cluster snapshot ARN"),
    ({"source_snapshot": "arn:aws:rds:eu-west-1:111111111111:snapshot:x"}, "source_snapshot",
     "is not a cluster snapshot ARN"),
    ({"shared_accounts": ["12345"]}, "shared_accounts", "12-digit"),
    ({"wait_timeout": -1}, "wait_timeout", "negative"),
])
def test_bad_input_fails_before_any_change(emulator, run_module, prod_cluster, args, field, rule):
    rds = emulator.client("rds", "production")
    params = {"db_cluster_snapshot_identifier": unique("snap-bad"),
              "db_cluster_identifier": prod_cluster}
    params.update(args)
    if "source_snapshot" in args:
        params.pop("db_cluster_identifier")
    emulator.control("calls?reset=1")
    result = run_module("snapshot", params, profile="production")
    assert result.failed and field in result["msg"] and rule in result["msg"], result
    assert emulator.control("calls")["total"] == 0  # refused before any AWS call
    assert find_snapshot(rds, params["db_cluster_snapshot_identifier"][:63]) is None


def test_bad_references_fail_before_any_change(emulator, run_module, settings, prod_cluster):
    rds = emulator.client("rds", "production")
    name = unique("snap-ref")

    def attempt(**args):
        result = run_module("snapshot", dict({"db_cluster_snapshot_identifier": name}, **args),
                            profile="production")
        assert result.failed, result
        assert find_snapshot(rds, name) is None
        return result["msg"]

    assert "no such cluster" in attempt(db_cluster_identifier=unique("missing"))
    assert "db_cluster_identifier" in attempt(db_cluster_identifier=unique("missing"))
    assert "no such cluster snapshot" in attempt(source_snapshot=unique("missing"))
    assert "no such cluster snapshot" in attempt(
        source_snapshot="arn:aws:rds:eu-west-1:%s:cluster-snapshot:%s" % (ACCEPTANCE,
                                                                          unique("nope")))
    msg = attempt(db_cluster_identifier=prod_cluster, engine="aurora-mysql")
    assert "engine" in msg and "aurora-postgresql" in msg
    assert "does not exist" in attempt()  # neither a cluster nor a source to make it from
    assert "mutually exclusive" in attempt(db_cluster_identifier=prod_cluster,
                                           source_snapshot="x")
    assert "source_snapshot" in attempt(db_cluster_identifier=prod_cluster, kms_key_id="k")

    source = unique("snap-src-ok")
    snapshot(rds, prod_cluster, source)
    msg = attempt(source_snapshot=source, engine="aurora-mysql")
    assert "source_snapshot" in msg and "engine" in msg
    assert "no such KMS key" in attempt(source_snapshot=source, kms_key_id="alias/nope")

    settings(creating_seconds=30)
    busy = unique("snap-busy")
    snapshot(rds, prod_cluster, busy)
    msg = attempt(source_snapshot=busy)
    assert "creating" in msg and "not available" in msg


def test_existing_snapshot_of_another_cluster_is_refused(emulator, run_module, prod_cluster):
    rds = emulator.client("rds", "production")
    other = unique("snap-other")
    cluster(rds, other, engine="aurora-mysql")
    name = unique("snap-taken")
    snapshot(rds, other, name)
    result = run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                                     "db_cluster_identifier": prod_cluster},
                        profile="production")
    assert result.failed and "already exists" in result["msg"] and other in result["msg"]
    assert find_snapshot(rds, name)["DBClusterIdentifier"] == other


def test_throttling_is_retried(emulator, run_module, settings, prod_cluster):
    rds = emulator.client("rds", "production")
    settings(throttle_rate=0.3, seed=11)
    name = unique("snap-throttle")
    result = run_module("snapshot", {"db_cluster_snapshot_identifier": name,
                                     "db_cluster_identifier": prod_cluster,
                                     "shared_accounts": [ACCEPTANCE], "tags": {"t": "1"}},
                        profile="production")
    settings(throttle_rate=0)
    assert not result.failed, result
    assert shared_with(rds, name) == [ACCEPTANCE] and find_snapshot(rds, name)["Status"] == "available"
