"""dbops.aurora.snapshot_pointer against the emulator: SSM pointers over real HTTP."""

import importlib
import uuid

import pytest

from conftest import ACCEPTANCE

MODULE = "ansible_collections.dbops.aurora.plugins.modules.snapshot_pointer"
PASSWORD = "pointer-secret-1"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def make_snapshot(emulator, profile="acceptance", share_with=None):
    """An available aurora-mysql snapshot (no PostgreSQL server behind it: cheap)."""
    rds = emulator.client("rds", profile)
    cluster = unique("ptr-src")
    rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-mysql",
                          MasterUsername="admin", MasterUserPassword=PASSWORD)
    name = unique("ptr-snap")
    snapshot = rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=name,
                                              DBClusterIdentifier=cluster)["DBClusterSnapshot"]
    if share_with:
        rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=name,
                                                 AttributeName="restore",
                                                 ValuesToAdd=[share_with])
    return name, snapshot["DBClusterSnapshotArn"]


@pytest.fixture()
def pointers():
    prefix = "/dbops-test/%s" % uuid.uuid4().hex[:8]
    return {"latest_parameter": prefix + "/latest", "current_parameter": prefix + "/current",
            "engine": "aurora-mysql"}


@pytest.fixture()
def ssm(emulator):
    return emulator.client("ssm", "acceptance")


@pytest.fixture()
def pointer_module(run_module):  # pylint: disable=unused-argument
    """The module object as run_module imports it, to wrap its write path."""
    return importlib.import_module(MODULE)


def value_of(ssm, name):
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def tags_of(ssm, name):
    return {t["Key"]: t["Value"] for t in ssm.list_tags_for_resource(
        ResourceType="Parameter", ResourceId=name)["TagList"]}


def test_record_latest_writes_the_arn_and_is_idempotent(emulator, run_module, ssm, pointers):
    name, arn = make_snapshot(emulator)
    result = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                 snapshot=name))
    assert not result.failed, result
    assert result.changed and result["value"] == arn and result["previous"] is None
    assert result["version"] == 1 and result["latest"] == arn and result["current"] is None
    assert result["snapshot"]["status"] == "available" and result["snapshot"]["arn"] == arn
    assert value_of(ssm, pointers["latest_parameter"]) == arn

    # The same snapshot by ARN, or by name again, is the same value: nothing written.
    for reference in (arn, name, name.upper()):
        again = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                    snapshot=reference))
        assert not again.failed and not again.changed, again
    assert ssm.get_parameter(Name=pointers["latest_parameter"])["Parameter"]["Version"] == 1

    second_name, second_arn = make_snapshot(emulator)
    newer = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                snapshot=second_name, history_size=5))
    assert newer.changed and newer["previous"] == arn and newer["value"] == second_arn
    assert [h["value"] for h in newer["history"]["latest"]] == [second_arn, arn]
    assert [h["version"] for h in newer["history"]["latest"]] == [2, 1]
    assert newer["history"]["current"] == []


def test_record_latest_takes_a_snapshot_shared_by_arn(emulator, run_module, ssm, pointers):
    dummy, arn = make_snapshot(emulator, "production", share_with=ACCEPTANCE)
    result = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                 snapshot=arn))
    assert not result.failed and result.changed, result
    assert value_of(ssm, pointers["latest_parameter"]) == arn
    assert result["snapshot"]["arn"] == arn


def test_check_mode_writes_nothing(emulator, run_module, ssm, pointers):
    name, arn = make_snapshot(emulator)
    result = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                 snapshot=name), check_mode=True, diff=True)
    assert result.changed and result["value"] == arn and "check mode" in result["msg"]
    assert result["diff"] == {"before": {"latest": None, "current": None, "pinned": False},
                              "after": {"latest": arn, "current": None, "pinned": False}}
    assert value_of(ssm, pointers["latest_parameter"]) is None

    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=name))
    for operation, extra in (("promote", {}), ("pin", {"snapshot": name})):
        result = run_module("snapshot_pointer", dict(pointers, operation=operation, **extra),
                            check_mode=True)
        assert result.changed and result["current"] == arn, result
    assert value_of(ssm, pointers["current_parameter"]) is None

    run_module("snapshot_pointer", dict(pointers, operation="pin", snapshot=name))
    result = run_module("snapshot_pointer", dict(pointers, operation="unpin"), check_mode=True)
    assert result.changed and result["pinned"] is False
    assert tags_of(ssm, pointers["current_parameter"])["dbops:pinned"] == "true"


def test_promote_copies_latest_to_current(emulator, run_module, ssm, pointers):
    name, arn = make_snapshot(emulator)
    missing = run_module("snapshot_pointer", dict(pointers, operation="promote"))
    assert missing.failed and "does not exist: record a snapshot as latest first" \
        in missing["msg"]
    assert value_of(ssm, pointers["current_parameter"]) is None

    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=name))
    result = run_module("snapshot_pointer", dict(pointers, operation="promote"), diff=True)
    assert not result.failed and result.changed, result
    assert result["parameter"] == pointers["current_parameter"]
    assert result["previous"] is None and result["value"] == arn and result["current"] == arn
    assert result["pinned"] is False
    assert result["diff"]["after"] == {"latest": arn, "current": arn, "pinned": False}
    assert value_of(ssm, pointers["current_parameter"]) == arn

    again = run_module("snapshot_pointer", dict(pointers, operation="promote"))
    assert not again.failed and not again.changed
    assert [h["version"] for h in again["history"]["current"]] == [1]


def test_promote_refuses_a_latest_snapshot_that_is_gone(emulator, run_module, ssm, pointers):
    name, arn = make_snapshot(emulator)
    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=name))
    run_module("snapshot_pointer", dict(pointers, operation="promote"))
    other, dummy = make_snapshot(emulator)
    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=other))
    emulator.client("rds").delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=other)
    result = run_module("snapshot_pointer", dict(pointers, operation="promote"))
    assert result.failed and "does not exist or is not visible" in result["msg"]
    assert pointers["latest_parameter"] in result["msg"]
    assert value_of(ssm, pointers["current_parameter"]) == arn


def test_pinned_current_is_not_promoted(emulator, run_module, ssm, pointers):
    latest_name, latest_arn = make_snapshot(emulator)
    pinned_name, pinned_arn = make_snapshot(emulator)
    run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                        snapshot=latest_name))

    # Pinning a pointer that does not exist yet creates it already tagged.
    pin = run_module("snapshot_pointer", dict(pointers, operation="pin", snapshot=pinned_name))
    assert not pin.failed and pin.changed and pin["pinned"] is True, pin
    assert pin["current"] == pinned_arn
    assert tags_of(ssm, pointers["current_parameter"])["dbops:pinned"] == "true"
    again = run_module("snapshot_pointer", dict(pointers, operation="pin", snapshot=pinned_arn))
    assert not again.changed and again["pinned"] is True

    promote = run_module("snapshot_pointer", dict(pointers, operation="promote"))
    assert not promote.failed and not promote.changed and promote["pinned"] is True
    assert "pinned" in promote["msg"] and "not promoted" in promote["msg"]
    assert value_of(ssm, pointers["current_parameter"]) == pinned_arn

    unpin = run_module("snapshot_pointer", dict(pointers, operation="unpin"), diff=True)
    assert unpin.changed and unpin["pinned"] is False
    assert unpin["diff"]["before"]["pinned"] is True and unpin["diff"]["after"]["pinned"] is False
    assert "dbops:pinned" not in tags_of(ssm, pointers["current_parameter"])
    assert value_of(ssm, pointers["current_parameter"]) == pinned_arn
    assert not run_module("snapshot_pointer", dict(pointers, operation="unpin")).changed

    promote = run_module("snapshot_pointer", dict(pointers, operation="promote"))
    assert promote.changed and promote["current"] == latest_arn
    assert promote["previous"] == pinned_arn

    # Pinning the value current already holds only adds the pin.
    pin = run_module("snapshot_pointer", dict(pointers, operation="pin", snapshot=latest_name))
    assert pin.changed and pin["pinned"] is True
    assert ssm.get_parameter(Name=pointers["current_parameter"])["Parameter"]["Version"] == 2


def test_read_reports_both_pointers(emulator, run_module, pointers):
    name, arn = make_snapshot(emulator)
    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=name))
    run_module("snapshot_pointer", dict(pointers, operation="pin", snapshot=name))
    result = run_module("snapshot_pointer", dict(pointers, history_size=1))
    assert not result.failed and not result.changed
    assert result["operation"] == "read" and result["parameter"] is None
    assert (result["latest"], result["current"], result["pinned"]) == (arn, arn, True)
    assert len(result["history"]["latest"]) == 1 and len(result["history"]["current"]) == 1


def _bad_inputs(emulator):
    name, arn = make_snapshot(emulator)
    unshared_name, unshared_arn = make_snapshot(emulator, "production")
    pg_cluster = unique("ptr-pg")
    rds = emulator.client("rds")
    rds.create_db_cluster(DBClusterIdentifier=pg_cluster, Engine="aurora-mysql",
                          MasterUsername="admin", MasterUserPassword=PASSWORD)
    return [
        ({"snapshot": "1-starts-with-digit"}, "snapshot '1-starts-with-digit' must be 1 to 63"),
        ({"snapshot": "double--hyphen"}, "two consecutive hyphens"),
        ({"snapshot": "arn:aws:rds:eu-west-1:1111:cluster-snapshot:x"},
         "is not a cluster snapshot ARN"),
        ({"snapshot": unique("no-such-snapshot")}, "does not exist or is not visible"),
        ({"snapshot": unshared_arn}, "does not exist or is not visible"),
        ({"snapshot": unshared_name}, "does not exist or is not visible"),
        ({"snapshot": name, "engine": "aurora-postgresql"},
         "is a aurora-mysql snapshot, not aurora-postgresql"),
        ({"snapshot": name, "latest_parameter": "no/leading/slash"},
         "latest_parameter 'no/leading/slash' must be an SSM parameter path"),
        ({"snapshot": name, "current_parameter": "/has space/x"},
         "current_parameter '/has space/x' must be an SSM parameter path"),
        ({"snapshot": name, "history_size": 101}, "history_size must be between 0 and 100"),
        ({"operation": "promote", "snapshot": name}, "snapshot is only used with"),
        ({"operation": "pin"}, "snapshot"),
        ({"snapshot": name, "same": True}, "must be two different parameters"),
    ], arn


def test_bad_input_fails_before_any_change(emulator, run_module, ssm, pointers):
    cases, dummy = _bad_inputs(emulator)
    for extra, message in cases:
        args = dict(pointers, operation="record_latest")
        if extra.pop("same", False):
            args["current_parameter"] = args["latest_parameter"]
        args.update(extra)
        result = run_module("snapshot_pointer", args)
        assert result.failed, (extra, result)
        assert message in result["msg"], (extra, result["msg"])
    assert value_of(ssm, pointers["latest_parameter"]) is None
    assert value_of(ssm, pointers["current_parameter"]) is None


def test_a_snapshot_still_creating_is_refused(emulator, run_module, ssm, pointers, settings):
    rds = emulator.client("rds")
    cluster = unique("ptr-slow")
    rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                          MasterUsername="master", MasterUserPassword=PASSWORD)
    settings(creating_seconds=30)
    name = unique("ptr-creating")
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=name, DBClusterIdentifier=cluster)
    result = run_module("snapshot_pointer", dict(pointers, operation="pin", snapshot=name,
                                                 engine="aurora-postgresql"))
    assert result.failed and "is creating, not available" in result["msg"], result
    assert value_of(ssm, pointers["current_parameter"]) is None
    settings(creating_seconds=0)
    rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)


def _race(monkeypatch, pointer_module, ssm, their_value):
    """Another writer puts ``their_value`` between the module's read and its write."""
    real = pointer_module.put_pointer
    calls = []

    def racing(client, name, value, read_version, tags=None):
        calls.append((name, value, read_version))
        if their_value is not None:
            ssm.put_parameter(Name=name, Value=their_value, Type="String", Overwrite=True)
        return real(client, name, value, read_version, tags=tags)

    monkeypatch.setattr(pointer_module, "put_pointer", racing)
    return calls


def test_a_concurrent_change_fails_and_keeps_their_update(emulator, run_module, ssm, pointers,
                                                          pointer_module, monkeypatch):
    first, first_arn = make_snapshot(emulator)
    mine, dummy = make_snapshot(emulator)
    theirs, theirs_arn = make_snapshot(emulator)
    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=first))
    calls = _race(monkeypatch, pointer_module, ssm, theirs_arn)
    result = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                 snapshot=mine))
    assert calls and calls[0][2] == 1  # the module read version 1
    assert result.failed
    assert ("changed by someone else between read and write: version 2 expected, found 3"
            in result["msg"]), result["msg"]
    assert result["conflict"]["their_value"] == theirs_arn and result["conflict"]["restored"]
    # Their update stands: their value is current again (version 4), ours did not win.
    parameter = ssm.get_parameter(Name=pointers["latest_parameter"])["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == (theirs_arn, 4)
    assert first_arn != theirs_arn


def test_a_concurrent_write_of_the_same_value_loses_nothing(emulator, run_module, ssm,
                                                            pointers, pointer_module,
                                                            monkeypatch):
    first, dummy = make_snapshot(emulator)
    second, second_arn = make_snapshot(emulator)
    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=first))
    _race(monkeypatch, pointer_module, ssm, second_arn)
    result = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                 snapshot=second))
    assert not result.failed and result.changed, result
    assert result["version"] == 3 and result["latest"] == second_arn


def test_a_promote_racing_a_pin_undoes_the_pin(emulator, run_module, ssm, pointers,
                                               pointer_module, monkeypatch):
    latest, latest_arn = make_snapshot(emulator)
    chosen, dummy = make_snapshot(emulator)
    run_module("snapshot_pointer", dict(pointers, operation="record_latest", snapshot=latest))
    old, old_arn = make_snapshot(emulator)
    ssm.put_parameter(Name=pointers["current_parameter"], Value=old_arn, Type="String")
    # A promote lands between the pin's read and its write.
    _race(monkeypatch, pointer_module, ssm, latest_arn)
    result = run_module("snapshot_pointer", dict(pointers, operation="pin", snapshot=chosen))
    assert result.failed and "version 2 expected, found 3" in result["msg"], result
    assert value_of(ssm, pointers["current_parameter"]) == latest_arn
    assert "dbops:pinned" not in tags_of(ssm, pointers["current_parameter"])


def test_a_pointer_created_concurrently_is_a_conflict(emulator, run_module, ssm, pointers,
                                                      pointer_module, monkeypatch):
    mine, dummy = make_snapshot(emulator)
    theirs, theirs_arn = make_snapshot(emulator)
    _race(monkeypatch, pointer_module, ssm, theirs_arn)
    result = run_module("snapshot_pointer", dict(pointers, operation="record_latest",
                                                 snapshot=mine))
    assert result.failed and "version 1 expected, found 1" in result["msg"], result
    assert value_of(ssm, pointers["latest_parameter"]) == theirs_arn


def _cycle(run_module, pointers, name):
    for operation in ("record_latest", "pin", "unpin", "promote"):
        extra = {"snapshot": name} if operation in ("record_latest", "pin") else {}
        result = run_module("snapshot_pointer", dict(pointers, operation=operation, **extra))
        assert not result.failed, result


def test_throttling_is_retried(emulator, run_module, ssm, pointers, settings):
    name, arn = make_snapshot(emulator)
    calm = dict(pointers, latest_parameter=pointers["latest_parameter"] + "-calm",
                current_parameter=pointers["current_parameter"] + "-calm")
    emulator.control("calls?reset=1")
    _cycle(run_module, calm, name)
    without = emulator.control("calls")["total"]
    settings(throttle_rate=0.3, seed=11)
    emulator.control("calls?reset=1")
    _cycle(run_module, pointers, name)
    with_throttling = emulator.control("calls")["total"]
    settings(throttle_rate=0)
    assert value_of(ssm, pointers["current_parameter"]) == arn
    # Same work, more requests: the throttled ones were retried.
    assert with_throttling > without, (with_throttling, without)
