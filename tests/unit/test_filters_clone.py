"""A clone refresh's decisions: its refresh id (resumed or new), the lineage it must clear, the
final snapshot a rollback restores."""

import pytest
from ansible.errors import AnsibleFilterError

from conftest import import_collection_plugin

refresh = import_collection_plugin("plugins.filter.refresh")

SOURCE = "arn:aws:rds:eu-west-1:111111111111:cluster:app-prod"


def test_a_rerun_resumes_an_unfinished_clone_and_a_new_run_gets_a_new_id():
    first = refresh.clone_refresh_id(None, SOURCE, "1764900000.1")
    assert first == refresh.clone_refresh_id({}, SOURCE, "1764900000.1")  # stable for one start
    assert first != refresh.clone_refresh_id(None, SOURCE, "1764990000.5")  # the next run
    cloning = refresh.clone_record(first, SOURCE, "cloning", "2026-12-06T02:00:00Z", "1764900000.1")
    # A rerun started later resumes it ...
    assert refresh.clone_refresh_id(cloning, SOURCE, "1764990000.5") == first
    # ... but not once it serves, nor when another source is cloned now.
    serving = dict(cloning, state="serving")
    assert refresh.clone_refresh_id(serving, SOURCE, "1764990000.5") != first
    other = SOURCE.replace("app-prod", "app-prod-2")
    assert refresh.clone_refresh_id(cloning, other, "1764990000.5") != first
    assert first.startswith("r") and len(first) == 9


def test_bad_inputs_are_refused():
    with pytest.raises(AnsibleFilterError, match="source cluster"):
        refresh.clone_refresh_id(None, "", "1")
    with pytest.raises(AnsibleFilterError, match="must be a dict"):
        refresh.clone_refresh_id("cloning", SOURCE, "1")
    with pytest.raises(AnsibleFilterError, match="clone state"):
        refresh.clone_record("r12345678", SOURCE, "done")


def aws_cluster(name, group, **tags):
    return {"DBClusterIdentifier": name, "CloneGroupId": group,
            "TagList": [{"Key": key, "Value": value} for key, value in tags.items()]}


def test_lineage_separates_this_environments_clones_from_anyone_elses():
    conventions = import_collection_plugin("plugins.module_utils.conventions")
    clusters = [aws_cluster("app-acc", "g1"), aws_cluster("app-acc-previous-r00000001", "g1"),
                aws_cluster("app-acc-r0000000a", "g1"), aws_cluster("app-acc-undone-r00000002", "g2"),
                aws_cluster("other-team", "g1"),
                aws_cluster("app-acc-previous-prod", "g1", environment="production")]
    own, foreign = conventions.lineage_plan(clusters, "app-acc", "g1", keep_identifier="app-acc-r0000000a")
    assert [c["DBClusterIdentifier"] for c in own] == ["app-acc", "app-acc-previous-r00000001"]
    assert [c["DBClusterIdentifier"] for c in foreign] == ["other-team", "app-acc-previous-prod"]
    assert conventions.lineage_plan(clusters, "app-acc", None) == ([], [])


def listed(name, created, retired=None, status="available", **tags):
    if retired:
        tags["dbops:retired-at"] = retired
    return {"db_cluster_identifier": name, "db_cluster_snapshot_identifier": name,
            "cluster_create_time": created, "status": status, "tags": tags}


def test_a_rollback_restores_the_final_snapshot_only_when_it_served_last():
    clusters = [listed("app-acc", "2026-12-03T00:00:00Z"),
                listed("app-acc-previous-r00000000", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")]
    older = listed("app-acc-final-r00000001", "2026-12-01T00:00:00Z", "2026-12-01T12:00:00Z")
    # As rds_snapshot_info lists a snapshot: tag_list filled, tags empty.
    older["tag_list"] = [{"key": k, "value": v} for k, v in older.pop("tags").items()]
    newer = listed("app-acc-final-r00000002", "2026-12-03T00:00:00Z", "2026-12-03T00:00:00Z")
    pending = listed("app-acc-final-r00000003", "2026-12-04T00:00:00Z", "2026-12-04T00:00:00Z",
                     status="creating")
    unrelated = listed("app-acc-r00000004", "2026-12-05T00:00:00Z", "2026-12-05T00:00:00Z")
    snapshots = [older, newer, pending, unrelated]
    chosen = refresh.final_snapshot_to_restore(snapshots, clusters, "app-acc")
    assert chosen["db_cluster_snapshot_identifier"] == "app-acc-final-r00000002"
    assert chosen["restore_identifier"] == "app-acc-previous-r00000002-f"
    # The cluster the same refresh put aside has the snapshot's refresh id: no clash.
    same_id = clusters + [listed("app-acc-previous-r00000002", "2026-12-02T00:00:00Z", "2026-12-02T12:00:00Z")]
    assert refresh.final_snapshot_to_restore(snapshots, same_id, "app-acc")["restore_identifier"] \
        == "app-acc-previous-r00000002-f"
    # A previous cluster retired after it comes first; none at all is fine.
    assert refresh.final_snapshot_to_restore([older], clusters, "app-acc") is None
    assert refresh.final_snapshot_to_restore([older], [], "app-acc")["tags"] == {
        "dbops:retired-at": "2026-12-01T12:00:00Z"}
    assert refresh.final_snapshot_to_restore([], clusters, "app-acc") is None
    # Once restored (a cluster of its name exists) the rollback plan takes over.
    restored = clusters + [listed("app-acc-previous-r00000002-f", "2026-12-06T00:00:00Z")]
    assert refresh.final_snapshot_to_restore(snapshots, restored, "app-acc") is None
    # A swap stopped between its renames is finished first.
    halfway = [listed("app-acc-r00000005", "2026-12-06T00:00:00Z", **{
        "dbops:swap-canonical": "app-acc", "dbops:swap-candidate": "app-acc-r00000005",
        "dbops:swap-retained-as": "app-acc-previous-r00000009"})]
    assert refresh.final_snapshot_to_restore(snapshots, halfway, "app-acc") is None
    assert refresh.final_snapshot_pattern("app-acc") == "^app\\-acc\\-final\\-(r[0-9a-f]{8})$"
