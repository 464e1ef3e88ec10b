"""Which cluster retention keeps and a rollback puts back: the one retired last."""

from conftest import import_collection_plugin

refresh = import_collection_plugin("plugins.filter.refresh")


def cluster(name, created, retired=None, **tags):
    if retired:
        tags["dbops:retired-at"] = retired
    return {"db_cluster_identifier": name, "cluster_create_time": created, "tags": tags}


def test_a_rolled_back_cluster_retired_last_comes_first_though_created_first():
    """refresh 1 serves C1; refresh 2 serves C2 (C1 retired); rollback serves C1 (C2 undone);
    refresh 3 serves C3 (C1 retired again): C1 must come first, though C2 is younger."""
    clusters = [
        cluster("app-acc", "2026-11-03T00:00:00Z"),
        cluster("app-acc-previous-r3", "2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z"),
        cluster("app-acc-undone-r2", "2026-11-02T00:00:00Z", "2026-11-03T12:00:00Z"),
        cluster("app-acc-previous-r0", "2026-10-01T00:00:00Z"),
        cluster("app-acc-previous-prod", "2026-11-05T00:00:00Z", "2026-11-05T00:00:00Z",
                environment="production"),
        cluster("other-previous-r1", "2026-11-06T00:00:00Z", "2026-11-06T00:00:00Z"),
    ]
    names = [c["db_cluster_identifier"] for c in refresh.retired_first(clusters, "app-acc")]
    assert names == ["app-acc-previous-r3", "app-acc-undone-r2", "app-acc-previous-r0"]
    assert [c["db_cluster_identifier"] for c in
            refresh.retired_first(clusters, "app-acc", ["previous"])] == [
        "app-acc-previous-r3", "app-acc-previous-r0"]
    assert refresh.retired_first([], "app-acc") == []


def marked(name, created, canonical, retained_as, **tags):
    """A cluster a swap into ``canonical`` was bringing in (its marks written, its name not yet
    changed)."""
    found = cluster(name, created, **tags)
    found["tags"].update({"dbops:swap-canonical": canonical, "dbops:swap-candidate": name,
                          "dbops:swap-retained-as": retained_as})
    return found


def test_a_rollback_puts_back_the_cluster_retired_last_and_names_the_undone_one():
    clusters = [
        cluster("app-acc", "2026-11-03T00:00:00Z", **{"dbops:refresh-id": "r3"}),
        cluster("app-acc-previous-r2", "2026-11-02T00:00:00Z", "2026-11-03T01:00:00Z"),
        cluster("app-acc-previous-r1", "2026-11-01T00:00:00Z", "2026-11-02T01:00:00Z"),
    ]
    assert refresh.rollback_plan(clusters, "app-acc", "r1201") == {
        "candidate_identifier": "app-acc-previous-r2", "retained_identifier": "app-acc-undone-r3",
        "rollback": False, "resumes": False}


def test_a_rollback_stopped_between_its_renames_is_finished_not_reversed():
    """The serving cluster went to -undone-r3; the old one (marked) still waits under its name.
    retired_first alone would pick -undone-r3 if it carried a newer retired-at."""
    clusters = [
        cluster("app-acc-undone-r3", "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"),
        marked("app-acc-previous-r2", "2026-11-02T00:00:00Z", "app-acc", "app-acc-undone-r3"),
    ]
    assert refresh.rollback_plan(clusters, "app-acc", "r1201") == {
        "candidate_identifier": "app-acc-previous-r2", "retained_identifier": None,
        "rollback": False, "resumes": True}


def test_a_refresh_stopped_between_its_renames_is_undone_by_a_rollback():
    clusters = [
        cluster("app-acc-previous-r3", "2026-11-03T00:00:00Z"),
        marked("app-acc-r4", "2026-11-04T00:00:00Z", "app-acc", "app-acc-previous-r3"),
    ]
    assert refresh.rollback_plan(clusters, "app-acc", "r1201") == {
        "candidate_identifier": "app-acc-r4", "retained_identifier": None,
        "rollback": True, "resumes": True}


def test_marks_left_on_a_serving_cluster_by_an_old_swap_are_not_a_swap_under_way():
    clusters = [
        marked("app-acc", "2026-11-04T00:00:00Z", "app-acc", "app-acc-previous-r3"),
        cluster("app-acc-previous-r3", "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"),
    ]
    plan = refresh.rollback_plan(clusters, "app-acc", "r1201")
    assert plan["candidate_identifier"] == "app-acc-previous-r3" and not plan["resumes"]
    assert plan["retained_identifier"] == "app-acc-undone-r1201"


def test_nothing_to_roll_back_to_and_production_never_comes_back():
    assert refresh.rollback_plan([cluster("app-acc", "2026-11-03T00:00:00Z")], "app-acc", "r1") is None
    production = marked("app-acc-r4", "2026-11-04T00:00:00Z", "app-acc", "app-acc-previous-r3",
                        environment="production")
    assert refresh.rollback_plan([production], "app-acc", "r1") is None


def test_the_record_a_refresh_writes_reads_back():
    arn = "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-1"
    tags = refresh.refresh_record(arn, created="2026-12-01T02:00:00Z", phase="candidate",
                                  instance_prefix="app-acc-r1-12010200")
    assert tags == {"dbops:refresh-id": refresh.refresh_id(arn), "dbops:source-snapshot": arn,
                    "dbops:source-created": "2026-12-01T02:00:00Z", "dbops:phase": "candidate",
                    "dbops:instance-prefix": "app-acc-r1-12010200"}
    assert set(refresh.refresh_record(arn)) == {"dbops:refresh-id", "dbops:source-snapshot"}
    assert set(refresh.refresh_record(arn, with_source=False)) == {"dbops:refresh-id"}
    record = refresh.record_of(dict(tags, **{"dbops:retired-at": "2026-12-02T00:00:00Z"}))
    assert record == {"refresh_id": refresh.refresh_id(arn), "source_snapshot": arn,
                      "source_created": "2026-12-01T02:00:00Z", "phase": "candidate",
                      "retired_at": "2026-12-02T00:00:00Z", "instance_prefix": "app-acc-r1-12010200"}
    assert refresh.record_of(None)["refresh_id"] is None


def test_names_and_patterns():
    import re  # pylint: disable=import-outside-toplevel
    pattern = refresh.candidate_pattern("App-Acc")
    name = refresh.candidate_name("arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:x", "app-acc")
    assert re.match(pattern, name)
    assert not re.match(pattern, "app-acc-previous-r12345678")
    assert not re.match(pattern, "app-acc-r1234567")
    assert refresh.previous_prefix("app-acc") == "app-acc-previous-"
