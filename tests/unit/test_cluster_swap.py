"""dbops.aurora.cluster_swap against the emulator: RDS renames over real HTTP."""

import datetime
import importlib
import json
import uuid

import psycopg2
import pytest

MODULE = "ansible_collections.dbops.aurora.plugins.modules.cluster_swap"
PASSWORD = "swap-secret-12"
FAST = {"poll_interval": 0.1, "wait_timeout": 60}


@pytest.fixture()
def rds(emulator):
    return emulator.client("rds", "acceptance")


@pytest.fixture()
def swap_module(run_module):  # pylint: disable=unused-argument
    return importlib.import_module(MODULE)


@pytest.fixture()
def names():
    canonical = "swap-%s" % uuid.uuid4().hex[:8]
    return {"canonical": canonical, "candidate": canonical + "-r1",
            "retained": canonical + "-previous-r1"}


def make_cluster(rds, identifier, engine="aurora-mysql", **tags):
    """A cluster; aurora-mysql ones have no PostgreSQL server behind them (cheap)."""
    rds.create_db_cluster(DBClusterIdentifier=identifier, Engine=engine,
                          MasterUsername="master", MasterUserPassword=PASSWORD,
                          Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return resource_id(rds, identifier)


def describe(rds, identifier):
    try:
        return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except rds.exceptions.DBClusterNotFoundFault:
        return None


def resource_id(rds, identifier):
    cluster = describe(rds, identifier)
    return cluster["DbClusterResourceId"] if cluster else None


def tags(rds, identifier):
    return {t["Key"]: t["Value"] for t in describe(rds, identifier)["TagList"]}


def swap_args(names, **extra):
    return dict(FAST, canonical_identifier=names["canonical"],
                candidate_identifier=names["candidate"], **extra)


def state(rds, names):
    return {key: resource_id(rds, identifier) for key, identifier in names.items()}


def test_swap_renames_both_and_is_idempotent(rds, run_module, names):
    old = make_cluster(rds, names["canonical"], **{"dbops:phase": "serving"})
    new = make_cluster(rds, names["candidate"], **{"dbops:refresh-id": "r1"})
    result = run_module("cluster_swap", swap_args(names), diff=True)
    assert not result.failed and result.changed, result
    assert result["action"] == "swapped"
    assert result["retained_identifier"] == names["retained"]
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}
    assert result["before"] == {names["canonical"]: old, names["candidate"]: new}
    assert result["after"] == {names["canonical"]: new, names["retained"]: old}
    assert result["diff"] == {"before": result["before"], "after": result["after"]}
    assert result["renames"] == [{"from": names["canonical"], "to": names["retained"]},
                                 {"from": names["candidate"], "to": names["canonical"]}]
    assert result["downtime_seconds"] > 0 and result["rolled_back"] is False
    # What the refresh publishes: the cluster serving now, described after the renames.
    assert result["serving"]["db_cluster_identifier"] == names["canonical"]
    assert result["serving"]["db_cluster_resource_id"] == new
    assert result["serving"]["endpoint"] and result["serving"]["port"]
    assert result["serving"]["tags"]["dbops:phase"] == "serving"
    serving = tags(rds, names["canonical"])
    assert serving["dbops:phase"] == "serving"
    assert serving["dbops:swap-candidate"] == names["candidate"]
    assert serving["dbops:swap-retained-as"] == names["retained"]
    retained = tags(rds, names["retained"])
    assert retained["dbops:phase"] == "previous"
    # When it stopped serving: retention and rollback go by it, not by creation time.
    retired = datetime.datetime.fromisoformat(retained["dbops:retired-at"].replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - retired).total_seconds()) < 120
    assert "dbops:retired-at" not in serving

    again = run_module("cluster_swap", swap_args(names))
    assert not again.failed and not again.changed, again
    assert again["action"] == "already_swapped" and again["renames"] == []
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}


def test_retained_identifier_options(rds, run_module, names):
    # Derived from the candidate identifier when there is no refresh id tag.
    make_cluster(rds, names["canonical"])
    make_cluster(rds, names["canonical"] + "-2024-05-01")
    result = run_module("cluster_swap", dict(FAST, canonical_identifier=names["canonical"],
                                             candidate_identifier=names["canonical"]
                                             + "-2024-05-01"))
    assert result["retained_identifier"] == names["canonical"] + "-previous-2024-05-01"
    assert describe(rds, names["canonical"] + "-previous-2024-05-01") is not None

    other = "swapopt-%s" % uuid.uuid4().hex[:8]
    make_cluster(rds, other)
    make_cluster(rds, other + "-new")
    result = run_module("cluster_swap", dict(FAST, canonical_identifier=other,
                                             candidate_identifier=other + "-new",
                                             refresh_id="r77"))
    assert result["retained_identifier"] == other + "-previous-r77"
    assert describe(rds, other + "-previous-r77") is not None

    third = "swapret-%s" % uuid.uuid4().hex[:8]
    make_cluster(rds, third)
    make_cluster(rds, third + "-new")
    result = run_module("cluster_swap", dict(FAST, canonical_identifier=third,
                                             candidate_identifier=third + "-new",
                                             retained_identifier=third + "-keep"))
    assert not result.failed and result["retained_identifier"] == third + "-keep"
    assert describe(rds, third + "-keep") is not None


def test_a_taken_retained_name_gives_the_next_free_one_kept_on_resume(rds, run_module, names):
    """Restoring a snapshot again (a pin) reuses its refresh id while <canonical>-previous-<id>
    still holds an older cluster: the swap takes -2, and a rerun keeps the name it chose."""
    older = make_cluster(rds, names["retained"])
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    result = run_module("cluster_swap", swap_args(names, refresh_id="r1"))
    assert not result.failed and result["action"] == "swapped", result
    assert result["retained_identifier"] == names["retained"] + "-2"
    assert resource_id(rds, names["retained"] + "-2") == old
    assert resource_id(rds, names["retained"]) == older
    assert resource_id(rds, names["canonical"]) == new
    again = run_module("cluster_swap", swap_args(names, refresh_id="r1"))
    assert not again.failed and not again.changed and again["action"] == "already_swapped", again
    assert again["retained_identifier"] == names["retained"] + "-2"


def test_check_mode_renames_nothing(rds, run_module, names):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    before_tags = tags(rds, names["candidate"])
    result = run_module("cluster_swap", swap_args(names), check_mode=True, diff=True)
    assert result.changed and result["action"] == "swapped" and "check mode" in result["msg"]
    assert len(result["renames"]) == 2 and result["downtime_seconds"] == 0
    assert result["after"] == {names["canonical"]: new, names["retained"]: old}
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": None}
    assert tags(rds, names["candidate"]) == before_tags
    assert result["serving"]["db_cluster_resource_id"] == old  # nothing renamed yet


def test_first_deployment_only_renames_the_candidate(rds, run_module, names):
    new = make_cluster(rds, names["candidate"])
    result = run_module("cluster_swap", swap_args(names))
    assert not result.failed and result.changed and result["action"] == "first_deployment"
    assert result["renames"] == [{"from": names["candidate"], "to": names["canonical"]}]
    assert result["downtime_seconds"] == 0
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": None}
    assert tags(rds, names["canonical"])["dbops:phase"] == "serving"
    again = run_module("cluster_swap", swap_args(names))
    assert not again.changed and again["action"] == "already_swapped"


def crash_between_renames(rds, names):
    """What a run killed after its first rename leaves: the marks, canonical renamed away."""
    started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
    marks = {"dbops:swap-canonical": names["canonical"],
             "dbops:swap-candidate": names["candidate"],
             "dbops:swap-retained-as": names["retained"],
             "dbops:swap-started-at": started.replace(microsecond=0, tzinfo=None).isoformat()
             + "Z",
             "dbops:phase": "swapping"}
    arn = describe(rds, names["candidate"])["DBClusterArn"]
    rds.add_tags_to_resource(ResourceName=arn,
                             Tags=[{"Key": k, "Value": v} for k, v in marks.items()])
    rds.modify_db_cluster(DBClusterIdentifier=names["canonical"],
                          NewDBClusterIdentifier=names["retained"], ApplyImmediately=True)


def test_rerun_after_a_crash_completes_the_swap(rds, run_module, names):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    crash_between_renames(rds, names)
    result = run_module("cluster_swap", swap_args(names))
    assert not result.failed and result.changed and result["action"] == "resumed", result
    assert result["renames"] == [{"from": names["candidate"], "to": names["canonical"]}]
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}
    # The outage began at the first rename, 30 s ago (dbops:swap-started-at).
    assert 30 <= result["downtime_seconds"] < 60
    assert tags(rds, names["canonical"])["dbops:phase"] == "serving"
    assert tags(rds, names["retained"])["dbops:phase"] == "previous"


def test_rerun_after_a_crash_with_rollback_undoes_it(rds, run_module, names):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    crash_between_renames(rds, names)
    check = run_module("cluster_swap", swap_args(names, rollback=True), check_mode=True)
    assert check.changed and check["action"] == "rolled_back_resume"
    assert state(rds, names) == {"canonical": None, "candidate": new, "retained": old}

    result = run_module("cluster_swap", swap_args(names, rollback=True))
    assert not result.failed and result.changed and result["action"] == "rolled_back_resume"
    assert result["renames"] == [{"from": names["retained"], "to": names["canonical"]}]
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": None}
    candidate_tags = tags(rds, names["candidate"])
    assert candidate_tags["dbops:phase"] == "rolled-back"
    assert not any(key.startswith("dbops:swap-") for key in candidate_tags)
    assert tags(rds, names["canonical"])["dbops:phase"] == "serving"
    again = run_module("cluster_swap", swap_args(names, rollback=True))
    assert not again.changed and again["action"] == "nothing_to_roll_back"


def test_rollback_of_a_completed_swap(rds, run_module, names):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    run_module("cluster_swap", swap_args(names))
    result = run_module("cluster_swap", swap_args(names, rollback=True))
    assert not result.failed and result.changed and result["action"] == "rolled_back", result
    assert result["renames"] == [{"from": names["canonical"], "to": names["candidate"]},
                                 {"from": names["retained"], "to": names["canonical"]}]
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": None}
    assert result["downtime_seconds"] > 0
    assert result["serving"]["db_cluster_resource_id"] == old
    assert tags(rds, names["candidate"])["dbops:phase"] == "rolled-back"
    again = run_module("cluster_swap", swap_args(names, rollback=True))
    assert not again.changed and again["action"] == "nothing_to_roll_back"
    # Swapping it in again works: the candidate starts over.
    swapped = run_module("cluster_swap", swap_args(names))
    assert swapped["action"] == "swapped"
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}


def _intruder_on_second_rename(monkeypatch, swap_module, rds, names, stays):
    """Another cluster is renamed to the canonical name just before the second rename.

    The module's rename really reaches RDS and RDS really refuses it (the name is taken).
    With ``stays`` False the intruder is renamed away again right after, so renaming back
    works.  (Renamed in rather than created: moto names a new cluster's automated snapshot
    rds:<id>-<minute>, so re-creating a name within a minute collides.)
    """
    real = swap_module.rename_cluster
    parked = names["canonical"] + "-intruder"
    make_cluster(rds, parked)

    def racing(client, old, new, rid):
        if old == names["candidate"] and new == names["canonical"]:
            rds.modify_db_cluster(DBClusterIdentifier=parked,
                                  NewDBClusterIdentifier=names["canonical"],
                                  ApplyImmediately=True)
            try:
                return real(client, old, new, rid)
            finally:
                if not stays:
                    rds.modify_db_cluster(DBClusterIdentifier=names["canonical"],
                                          NewDBClusterIdentifier=parked,
                                          ApplyImmediately=True)
        return real(client, old, new, rid)

    monkeypatch.setattr(swap_module, "rename_cluster", racing)
    return parked


def test_a_failed_second_rename_renames_the_first_back(rds, run_module, names, swap_module,
                                                       monkeypatch):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    _intruder_on_second_rename(monkeypatch, swap_module, rds, names, stays=False)
    result = run_module("cluster_swap", swap_args(names))
    assert result.failed and result["rolled_back"] is True, result
    assert "already exists" in result["msg"]
    assert "renamed %s back to %s" % (names["retained"], names["canonical"]) in result["msg"]
    assert result["renames"] == [{"from": names["canonical"], "to": names["retained"]},
                                 {"from": names["retained"], "to": names["canonical"]}]
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": None}
    candidate_tags = tags(rds, names["candidate"])
    assert candidate_tags["dbops:phase"] == "swap-failed"
    assert "dbops:swap-canonical" not in candidate_tags

    monkeypatch.undo()
    retry = run_module("cluster_swap", swap_args(names))
    assert not retry.failed and retry["action"] == "swapped"
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}


def test_when_renaming_back_fails_too_rollback_recovers(rds, run_module, names, swap_module,
                                                        monkeypatch):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    _intruder_on_second_rename(monkeypatch, swap_module, rds, names, stays=True)
    result = run_module("cluster_swap", swap_args(names))
    assert result.failed and result["rolled_back"] is False
    assert "renaming %s back to %s failed too" % (names["retained"], names["canonical"]) \
        in result["msg"]
    assert "rollback: true" in result["msg"]
    assert resource_id(rds, names["retained"]) == old
    monkeypatch.undo()

    rds.modify_db_cluster(DBClusterIdentifier=names["canonical"],
                          NewDBClusterIdentifier=names["canonical"] + "-intruder",
                          ApplyImmediately=True)
    rolled = run_module("cluster_swap", swap_args(names, rollback=True))
    assert not rolled.failed and rolled["action"] == "rolled_back_resume", rolled
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": None}


@pytest.mark.parametrize("which", ["canonical", "candidate"])
def test_a_production_cluster_is_never_touched(rds, run_module, names, which):
    production = {which: {"environment": "Production"}}
    old = make_cluster(rds, names["canonical"], **production.get("canonical", {}))
    new = make_cluster(rds, names["candidate"], **production.get("candidate", {}))
    for rollback in (False, True):
        result = run_module("cluster_swap", swap_args(names, rollback=rollback))
        assert result.failed and "tagged environment=production" in result["msg"], result
        assert names[which] in result["msg"]
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": None}
    assert "dbops:swap-canonical" not in tags(rds, names["candidate"])


def test_bad_input_fails_before_any_change(rds, run_module, names):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    cases = [
        ({"canonical_identifier": "1swap"}, "canonical_identifier '1swap' must be 1 to 63"),
        ({"candidate_identifier": "swap--x"}, "must not contain two consecutive hyphens"),
        ({"candidate_identifier": "swap-x-"}, "must not end with a hyphen"),
        ({"candidate_identifier": "a" * 64}, "must be 1 to 63"),
        ({"retained_identifier": "keep_me"}, "retained_identifier 'keep_me' must be 1 to 63"),
        ({"candidate_identifier": names["canonical"].upper()},
         "candidate_identifier must differ from canonical_identifier"),
        ({"refresh_id": "x" * 60}, "retained identifier"),
        ({"refresh_id": "r1-"}, "must not end with a hyphen"),
        ({"retained_identifier": names["candidate"]}, "must differ from the canonical"),
        ({"refresh_id": "r1", "retained_identifier": "keep"}, "mutually exclusive"),
        ({"wait_timeout": 0}, "wait_timeout must be at least 1"),
        ({"poll_interval": 0}, "poll_interval must be more than 0"),
        ({"candidate_identifier": names["canonical"] + "-nope"}, "does not exist"),
    ]
    for extra, message in cases:
        result = run_module("cluster_swap", dict(swap_args(names), **extra))
        assert result.failed, (extra, result)
        assert message in result["msg"], (extra, result["msg"])
    # The retained identifier the caller names is taken by a third cluster.
    taken = make_cluster(rds, names["retained"])
    result = run_module("cluster_swap", swap_args(names, retained_identifier=names["retained"]))
    assert result.failed and "already taken by another cluster" in result["msg"]
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": taken}


def test_throttling_is_retried(emulator, rds, run_module, names, settings):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    settings(throttle_rate=0.3, seed=21)
    emulator.control("calls?reset=1")
    result = run_module("cluster_swap", swap_args(names))
    calls = emulator.control("calls")["calls"]
    settings(throttle_rate=0)
    assert not result.failed and result["action"] == "swapped", result
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}
    # Exactly two renames took effect, whatever was throttled and retried.
    assert len(result["renames"]) == 2 and calls["ModifyDBCluster"] >= 2


def test_slow_renames_are_waited_for_and_downtime_measured(rds, run_module, names, settings):
    """A real PostgreSQL server behind each cluster: the candidate's serves at the end."""
    make_cluster(rds, names["canonical"], engine="aurora-postgresql")
    make_cluster(rds, names["candidate"], engine="aurora-postgresql")
    candidate_port = describe(rds, names["candidate"])["Port"]
    with psycopg2.connect(host="127.0.0.1", port=candidate_port, user="master",
                          password=PASSWORD, dbname="postgres") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE marker AS SELECT 'candidate'::text AS who")
    settings(creating_seconds=1)
    result = run_module("cluster_swap", swap_args(names))
    settings(creating_seconds=0)
    assert not result.failed and result["action"] == "swapped", result
    # Each rename reports "renaming" for 1 s and the module waits for both.
    assert 2.0 <= result["downtime_seconds"] < 10, result["downtime_seconds"]
    serving = describe(rds, names["canonical"])
    assert serving["Status"] == "available" and serving["Port"] == candidate_port
    with psycopg2.connect(host=serving["Endpoint"], port=serving["Port"], user="master",
                          password=PASSWORD, dbname="postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT who FROM marker")
        assert cur.fetchone() == ("candidate",)
    for identifier in (names["canonical"], names["retained"]):
        rds.delete_db_cluster(DBClusterIdentifier=identifier, SkipFinalSnapshot=True)


def test_a_rename_slower_than_wait_timeout_fails_and_a_rerun_finishes(rds, run_module, names,
                                                                      settings):
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    settings(creating_seconds=3)
    result = run_module("cluster_swap", swap_args(names, wait_timeout=1))
    assert result.failed and "rerun to continue" in result["msg"], result
    assert state(rds, names) == {"canonical": None, "candidate": new, "retained": old}
    settings(creating_seconds=0)
    rerun = run_module("cluster_swap", swap_args(names))
    assert not rerun.failed and rerun["action"] == "resumed", rerun
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}


def test_swapping_back_a_cluster_that_was_swapped_in_before(rds, run_module, names):
    """A rollback's candidate is a previous cluster that still carries its old swap's tags."""
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"])
    assert run_module("cluster_swap", swap_args(names)).changed
    newer = make_cluster(rds, names["canonical"] + "-r2")
    second = run_module("cluster_swap", dict(FAST, canonical_identifier=names["canonical"],
                                             candidate_identifier=names["canonical"] + "-r2"))
    assert second.changed and resource_id(rds, names["canonical"] + "-previous-r2") == new

    back = run_module("cluster_swap", dict(FAST, canonical_identifier=names["canonical"],
                                           candidate_identifier=names["canonical"] + "-previous-r2",
                                           retained_identifier=names["canonical"] + "-undone-r2"))
    assert back.changed, back.get("msg")
    assert resource_id(rds, names["canonical"]) == new
    assert resource_id(rds, names["canonical"] + "-undone-r2") == newer
    assert resource_id(rds, names["retained"]) == old


def test_a_run_that_lost_the_lock_renames_nothing(rds, run_module, names, emulator):
    """A killed run's module resumed by another run (new token) must not act beside it."""
    old = make_cluster(rds, names["canonical"])
    new = make_cluster(rds, names["candidate"], **{"dbops:refresh-id": "r1"})
    lock_name = "/dbops-test/%s/lock" % names["canonical"]
    taken = run_module("refresh_lock", {"name": lock_name, "owner": "run-a"})
    assert not taken.failed, taken
    stale = {"name": lock_name, "owner": "run-a", "token": "0123456789abcdef"}
    fenced = run_module("cluster_swap", swap_args(names, lock=stale))
    assert fenced.failed and fenced["fenced"] and "no longer held by this run" in fenced["msg"]
    assert state(rds, names) == {"canonical": old, "candidate": new, "retained": None}

    holder = {"name": lock_name, "owner": "run-a", "token": taken["lock"]["token"]}
    swapped = run_module("cluster_swap", swap_args(names, lock=holder))
    assert not swapped.failed, swapped
    assert state(rds, names) == {"canonical": new, "candidate": None, "retained": old}
    ssm = emulator.client("ssm", "acceptance")
    heartbeat = json.loads(ssm.get_parameter(Name=lock_name)["Parameter"]["Value"])
    assert heartbeat["token"] == holder["token"] and heartbeat["heartbeat_at"] >= heartbeat["started_at"]
