"""dbops.aurora.refresh_lock against the emulator: an SSM lock parameter over real HTTP."""

import datetime
import importlib
import json
import time
import uuid

import pytest

MODULE = "ansible_collections.dbops.aurora.plugins.modules.refresh_lock"


@pytest.fixture()
def lock_name():
    return "/dbops-test/%s/refresh/lock" % uuid.uuid4().hex[:8]


@pytest.fixture()
def ssm(emulator):
    return emulator.client("ssm", "acceptance")


@pytest.fixture()
def lock_module(run_module):  # pylint: disable=unused-argument
    return importlib.import_module(MODULE)


def stored(ssm, name):
    try:
        parameter = ssm.get_parameter(Name=name)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return dict(json.loads(parameter["Value"]), version=parameter["Version"])


def iso(moment):
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def write_expired(ssm, name, owner="awx-job-1"):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=5)
    ssm.put_parameter(Name=name, Type="String", Value=json.dumps({
        "owner": owner, "started_at": iso(past),
        "expires_at": iso(past + datetime.timedelta(hours=4))}))


def test_take_hold_and_release(run_module, ssm, lock_name):
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-7", "ttl": 600},
                        diff=True)
    assert not result.failed and result.changed and result["held"], result
    assert result["took_over_expired"] is False and result["previous_holder"] is None
    lock = stored(ssm, lock_name)
    assert lock["owner"] == "awx-job-7" and lock["version"] == 1
    started = datetime.datetime.fromisoformat(lock["started_at"].replace("Z", "+00:00"))
    expires = datetime.datetime.fromisoformat(lock["expires_at"].replace("Z", "+00:00"))
    assert start <= started and (expires - started).total_seconds() == 600
    assert result["lock"] == lock
    assert result["diff"]["before"] == {} and result["diff"]["after"]["owner"] == "awx-job-7"

    assert len(lock["token"]) == 16 and lock["heartbeat_at"] == lock["started_at"]

    # Taking it again at once is a resume while the run may still be acting: refused.
    again = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-7", "ttl": 9000})
    assert again.failed and not again["held"] and "may still be acting" in again["msg"]
    assert stored(ssm, lock_name) == lock

    released = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-7",
                                           "state": "absent"})
    assert not released.failed and released.changed and released["lock"] is None
    assert released["previous_holder"]["owner"] == "awx-job-7"
    assert stored(ssm, lock_name) is None
    again = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-7",
                                        "state": "absent"})
    assert not again.failed and not again.changed


def test_a_second_holder_fails_naming_the_first(run_module, ssm, lock_name):
    first = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-1"})
    second = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2"})
    assert second.failed and not second.changed
    assert "held by awx-job-1" in second["msg"]
    assert "until %s" % first["lock"]["expires_at"] in second["msg"]
    assert second["holder"]["owner"] == "awx-job-1"
    assert stored(ssm, lock_name)["owner"] == "awx-job-1"


def test_release_by_another_owner_is_refused(run_module, ssm, lock_name):
    run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-1"})
    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2",
                                         "state": "absent"})
    assert result.failed and "belongs to awx-job-1" in result["msg"]
    assert "only its owner releases it" in result["msg"]
    assert stored(ssm, lock_name)["owner"] == "awx-job-1"

    # Even expired, someone else's lock is taken over, never released.
    expired = lock_name + "-expired"
    write_expired(ssm, expired)
    result = run_module("refresh_lock", {"name": expired, "owner": "awx-job-2",
                                         "state": "absent"})
    assert result.failed and "expired at" in result["msg"]
    assert stored(ssm, expired)["owner"] == "awx-job-1"


def test_an_expired_lock_is_taken_over(run_module, ssm, lock_name):
    write_expired(ssm, lock_name)
    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2"})
    assert not result.failed and result.changed, result
    assert result["took_over_expired"] is True
    assert result["previous_holder"]["owner"] == "awx-job-1"
    assert "taken over from awx-job-1" in result["msg"]
    lock = stored(ssm, lock_name)
    assert lock["owner"] == "awx-job-2" and lock["version"] == 2


def test_a_lock_expires_after_its_ttl(run_module, ssm, lock_name):
    # A few seconds: one module run on a loaded 2-core machine may take more than one.
    taken_at = time.monotonic()
    run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-1", "ttl": 6})
    blocked = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2"})
    assert time.monotonic() - taken_at < 6, "too slow to test the lock before it expires"
    assert blocked.failed and "held by awx-job-1" in blocked["msg"]
    time.sleep(max(0.0, 6.5 - (time.monotonic() - taken_at)))
    taken = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2"})
    assert taken.changed and taken["took_over_expired"], taken
    assert stored(ssm, lock_name)["owner"] == "awx-job-2"


def test_check_mode_writes_nothing(run_module, ssm, lock_name):
    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-1"},
                        check_mode=True)
    assert result.changed and result["held"] and "would be taken" in result["msg"]
    assert result["lock"]["owner"] == "awx-job-1" and result["lock"]["version"] is None
    assert stored(ssm, lock_name) is None

    write_expired(ssm, lock_name)
    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2"},
                        check_mode=True)
    assert result.changed and result["took_over_expired"]
    assert stored(ssm, lock_name)["owner"] == "awx-job-1"

    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-1",
                                         "state": "absent"}, check_mode=True)
    assert result.changed and "would be released" in result["msg"]
    assert stored(ssm, lock_name)["owner"] == "awx-job-1"


@pytest.mark.parametrize("args, message", [
    ({"name": "refresh-lock"}, "name 'refresh-lock' must be an SSM parameter path"),
    ({"name": "/a//b"}, "must be an SSM parameter path"),
    ({"ttl": 0}, "ttl must be between 1 and 604800 seconds"),
    ({"ttl": 604801}, "ttl must be between 1 and 604800 seconds"),
    ({"owner": ""}, "owner must be 1 to 256 characters"),
    ({"owner": "x" * 257}, "owner must be 1 to 256 characters"),
    ({"state": "locked"}, "state"),
])
def test_bad_input_fails_before_any_change(run_module, ssm, lock_name, args, message):
    result = run_module("refresh_lock", dict({"name": lock_name, "owner": "awx-job-1"},
                                             **args))
    assert result.failed and message in result["msg"], result
    assert stored(ssm, lock_name) is None


def test_a_parameter_that_is_not_a_lock_is_left_alone(run_module, ssm, lock_name):
    ssm.put_parameter(Name=lock_name, Type="String", Value="dummyvalue")
    for state in ("present", "absent"):
        result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-1",
                                             "state": state})
        assert result.failed and "not a lock written by refresh_lock" in result["msg"]
    assert ssm.get_parameter(Name=lock_name)["Parameter"]["Value"] == "dummyvalue"


def _race(monkeypatch, lock_module, ssm, their_owner, their_ttl=3600):
    """Another run writes its lock between this run's read and its write."""
    real = lock_module.write_lock

    def racing(client, name, lock, read_version):
        now = datetime.datetime.now(datetime.timezone.utc)
        theirs = json.dumps({"owner": their_owner, "started_at": iso(now),
                             "expires_at": iso(now + datetime.timedelta(seconds=their_ttl))})
        ssm.put_parameter(Name=name, Type="String", Value=theirs,
                          Overwrite=read_version is not None)
        return real(client, name, lock, read_version)

    monkeypatch.setattr(lock_module, "write_lock", racing)


def test_two_runs_racing_for_a_free_lock(run_module, ssm, lock_name, lock_module,
                                         monkeypatch):
    _race(monkeypatch, lock_module, ssm, "awx-job-1")
    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2"})
    assert result.failed and "taken by someone else at the same moment" in result["msg"]
    assert "held by awx-job-1" in result["msg"] and result["holder"]["owner"] == "awx-job-1"
    lock = stored(ssm, lock_name)
    assert lock["owner"] == "awx-job-1" and lock["version"] == 1


def test_two_runs_racing_to_take_over_an_expired_lock(run_module, ssm, lock_name,
                                                      lock_module, monkeypatch):
    write_expired(ssm, lock_name, owner="awx-job-0")
    _race(monkeypatch, lock_module, ssm, "awx-job-1")
    result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-2"})
    assert result.failed and "version 2 expected, found 3" in result["msg"], result
    assert result["holder"]["owner"] == "awx-job-1"
    # The winner's lock was put back over ours.
    lock = stored(ssm, lock_name)
    assert lock["owner"] == "awx-job-1" and lock["version"] == 4


def test_throttling_is_retried(emulator, run_module, ssm, lock_name, settings):
    settings(throttle_rate=0.3, seed=3)
    emulator.control("calls?reset=1")
    for state in ("present", "absent", "present", "absent"):
        result = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-1",
                                             "state": state})
        assert not result.failed, result
    calls = emulator.control("calls")
    settings(throttle_rate=0)
    assert stored(ssm, lock_name) is None
    # Without faults the four runs make 8 calls (get+put, get+delete twice); retries add more.
    assert calls["total"] > 8, calls


def test_resume_waits_for_the_orphans_heartbeat_then_fences_it(run_module, ssm, lock_name,
                                                               emulator):
    """A killed run's module goes on (and heartbeats); the resumed run may start only once it
    is quiet, and then the old token is refused to whatever the old run still tries."""
    from conftest import import_collection_plugin  # pylint: disable=import-outside-toplevel
    fencing = import_collection_plugin("plugins.module_utils._lock")
    retries = importlib.import_module("ansible_collections.amazon.aws.plugins.module_utils.retries")
    ssm = retries.RetryingBotoClientWrapper(ssm, retries.AWSRetry.jittered_backoff())
    taken = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-9", "ttl": 600,
                                        "stale_after": 2})
    old = {"name": lock_name, "owner": "awx-job-9", "token": taken["lock"]["token"]}
    time.sleep(2.2)
    fencing.heartbeat(ssm, old)  # the orphan still acts
    early = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-9",
                                        "stale_after": 2})
    assert early.failed and "showed life" in early["msg"] and "may still be acting" in early["msg"]

    time.sleep(2.2)  # the orphan stopped
    resumed = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-9",
                                          "stale_after": 2})
    assert not resumed.failed and resumed.changed and resumed["resumed"], resumed
    assert resumed["lock"]["token"] != old["token"] and "fenced" in resumed["msg"]
    with pytest.raises(fencing.Fenced, match="no longer held by this run"):
        fencing.heartbeat(ssm, old)
    new = dict(old, token=resumed["lock"]["token"])
    fencing.heartbeat(ssm, new)
    assert stored(ssm.client, lock_name)["token"] == new["token"]

    bad = run_module("refresh_lock", {"name": lock_name, "owner": "x", "stale_after": 0})
    assert bad.failed and bad["invalid_fields"] == ["stale_after"]


def test_heartbeats_are_written_at_most_every_quarter_of_stale_after(run_module, ssm, lock_name):
    """Every fenced change reads the lock; the heartbeat write is skipped while the last one is
    younger than stale_after / 4, and a resume still waits for the stale_after the lock was
    taken with, so the skipped writes never pass for death."""
    from conftest import import_collection_plugin  # pylint: disable=import-outside-toplevel
    fencing = import_collection_plugin("plugins.module_utils._lock")
    retries = importlib.import_module("ansible_collections.amazon.aws.plugins.module_utils.retries")
    client = retries.RetryingBotoClientWrapper(ssm, retries.AWSRetry.jittered_backoff())
    taken = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-11",
                                        "stale_after": 120})
    assert taken["lock"]["stale_after"] == 120 and stored(ssm, lock_name)["stale_after"] == 120
    fence = {"name": lock_name, "owner": "awx-job-11", "token": taken["lock"]["token"]}
    version = stored(ssm, lock_name)["version"]
    for dummy in range(3):
        fencing.heartbeat(client, fence)
    assert stored(ssm, lock_name)["version"] == version  # three checks, no write
    with pytest.raises(fencing.Fenced, match="no longer held by this run"):
        fencing.heartbeat(client, dict(fence, token="0" * 16))  # the read still fences

    early = run_module("refresh_lock", {"name": lock_name, "owner": "awx-job-11",
                                        "stale_after": 1})
    assert early.failed and "quiet for stale_after=120 seconds" in early["msg"], early

    short = run_module("refresh_lock", {"name": lock_name + "-short", "owner": "awx-job-12",
                                        "stale_after": 2})
    fence = {"name": lock_name + "-short", "owner": "awx-job-12", "token": short["lock"]["token"]}
    time.sleep(1.1)  # more than 2 / 4 seconds: this heartbeat is written
    fencing.heartbeat(client, fence)
    assert stored(ssm, lock_name + "-short")["version"] == 2
