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
