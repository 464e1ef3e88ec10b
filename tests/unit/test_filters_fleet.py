"""dbops.aurora.fleet_problems: a refresh play over several acceptance environments refuses to
act on fewer of them than the inventory defines, or on two that would share something."""

from conftest import import_collection_plugin

fleet = import_collection_plugin("plugins.filter.fleet")


def environment(name, account="", **own):
    identity = {"account": account, "canonical": "app-" + name, "lock": "/dbops/%s/lock" % name,
                "latest": "/dbops/%s/latest" % name, "current": "/dbops/%s/current" % name,
                "secret": "/app/%s/db-credentials-arn" % name,
                "report": "/tmp/dbops-aurora/refresh-report-%s.json" % name}
    identity.update(own)
    return {"refresh_canonical_identifier": "app-" + name, "refresh_fleet_identity": identity}


def inventory(*names, **groups):
    hostvars = {name: environment(name) for name in names}
    hostvars["production"] = {"dbops_cluster_identifier": "app-prod"}  # not an environment
    groups = dict(groups, all=list(names) + ["production"])
    return hostvars, groups


def test_a_fleet_in_its_own_group_may_run():
    hostvars, groups = inventory("acc-1", "acc-2", "acc-3", acceptance=["acc-1", "acc-2", "acc-3"])
    assert fleet.fleet_problems(["acc-1", "acc-2", "acc-3"], hostvars, groups) == []


def test_a_host_named_like_its_group_is_refused():
    """Ansible matches `hosts: acceptance` to the host alone when a group has the same name."""
    hostvars, groups = inventory("acceptance", "acc-2", "acc-3",
                                 acceptance=["acceptance", "acc-2", "acc-3"])
    problems = fleet.fleet_problems(["acceptance"], hostvars, groups)
    assert len(problems) == 2, problems
    assert "host acceptance is named like the group acceptance" in problems[0]
    assert "refresh 1 of the group's 3 environments (acc-2, acc-3 left out)" in problems[0]
    assert "acc-2, acc-3 would not be refreshed" in problems[1]
    # Chosen on purpose (--limit): the name is still refused, the left-out ones are not.
    chosen = fleet.fleet_problems(["acceptance"], hostvars, groups, explicit=True)
    assert len(chosen) == 1 and "named like the group" in chosen[0]


def test_environments_left_out_of_the_play_are_refused_unless_chosen():
    hostvars, groups = inventory("acc-1", "acc-2", "stage-1", acceptance=["acc-1", "acc-2"])
    problems = fleet.fleet_problems(["acc-1", "acc-2"], hostvars, groups)
    assert problems == [
        "the inventory defines 3 environment(s) (hosts with refresh_canonical_identifier) and "
        "this play matches 2: stage-1 would not be refreshed; choose them on purpose with "
        "--limit or -e dbops_refresh_hosts=PATTERN, or put them in the play's group"]
    assert fleet.fleet_problems(["acc-1", "acc-2"], hostvars, groups, explicit=True) == []
    # One environment alone (the local inventory) is the whole fleet.
    single, groups = inventory("acceptance", environments=["acceptance"])
    assert fleet.fleet_problems(["acceptance"], single, groups) == []


def test_two_environments_sharing_a_cluster_pointer_lock_secret_or_report_are_refused():
    hostvars, groups = inventory("acc-1", "acc-2", "acc-3", acceptance=["acc-1", "acc-2", "acc-3"])
    hostvars["acc-2"]["refresh_fleet_identity"].update(
        canonical="app-acc-1", lock="/dbops/acc-1/lock")
    hostvars["acc-3"]["refresh_fleet_identity"]["report"] = \
        hostvars["acc-1"]["refresh_fleet_identity"]["report"]
    problems = fleet.fleet_problems(["acc-1", "acc-2", "acc-3"], hostvars, groups)
    assert problems == [
        "acc-1 and acc-2 share the canonical cluster app-acc-1: give each environment its own",
        "acc-1 and acc-2 share the lock parameter /dbops/acc-1/lock: give each environment its own",
        "acc-1 and acc-3 share the report path /tmp/dbops-aurora/refresh-report-acc-1.json: give "
        "each environment its own"]


def test_the_same_names_in_different_accounts_do_not_clash():
    """Each account has its own clusters and parameters; the report is on this machine."""
    hostvars, groups = inventory("acc-1", "acc-2", acceptance=["acc-1", "acc-2"])
    for host, account in (("acc-1", "team-a"), ("acc-2", "team-b")):
        hostvars[host]["refresh_fleet_identity"].update(
            account=account, canonical="app-acceptance", lock="/dbops/lock",
            latest="/dbops/latest", current="/dbops/current", secret="/app/secret")
    assert fleet.fleet_problems(["acc-1", "acc-2"], hostvars, groups) == []


def test_the_summary_names_the_failed_environments_first_with_why():
    hostvars = {
        "acc-1": {"refresh_summary": {"status": "succeeded"}},
        "acc-2": {"refresh_summary": {"status": "failed",
                                      "failure": "Run the smoke checks: 1 failed\n"}},
        "acc-3": {"refresh_summary": {"status": "succeeded"}},
        "acc-4": {},
    }
    assert fleet.fleet_summary(["acc-1", "acc-2", "acc-3", "acc-4"], hostvars) == (
        "4 environment(s): 1 failed: acc-2; 2 succeeded: acc-1, acc-3; 1 not reported: acc-4. "
        "Failed: acc-2 (Run the smoke checks: 1 failed)")
