"""The cluster role's filters: which instances a cluster keeps, which tags stay the refresh's."""

import pytest
from ansible.errors import AnsibleFilterError

from conftest import import_collection_plugin

cluster = import_collection_plugin("plugins.filter.cluster")


def instance(name, cluster_id, **tags):
    return {"db_instance_identifier": name, "db_cluster_identifier": cluster_id, "tags": tags}


def test_a_refreshed_cluster_keeps_its_instances_whatever_their_names():
    """After a refresh, app-acc's instance is app-acc-r1a2b3c4d-0101-1 and app-acc-1 belongs to
    the cluster kept for rollback: nothing is created, the refresh's tags are kept."""
    instances = [
        instance("app-acc-1", "app-acc-previous-r1a2b3c4d", environment="acceptance"),
        instance("app-acc-r1a2b3c4d-0101-1", "app-acc", environment="acceptance",
                 **{"dbops:source-snapshot": "arn:x", "dbops:refresh-id": "r1a2b3c4d"}),
    ]
    assert cluster.instance_plan("app-acc", 1, instances) == [
        {"db_instance_identifier": "app-acc-r1a2b3c4d-0101-1",
         "refresh_tags": {"dbops:source-snapshot": "arn:x", "dbops:refresh-id": "r1a2b3c4d"}}]


def test_missing_instances_get_names_no_instance_uses():
    instances = [instance("app-acc-1", "app-acc-previous-r1", environment="acceptance"),
                 instance("app-acc-r1-0101-1", "app-acc")]
    plan = cluster.instance_plan("app-acc", 3, instances)
    assert [entry["db_instance_identifier"] for entry in plan] == [
        "app-acc-r1-0101-1", "app-acc-2", "app-acc-3"]
    assert cluster.instance_plan("app-new", "2", []) == [
        {"db_instance_identifier": "app-new-1", "refresh_tags": {}},
        {"db_instance_identifier": "app-new-2", "refresh_tags": {}}]
    with pytest.raises(AnsibleFilterError, match="count"):
        cluster.instance_plan("app-acc", "two", [])


def test_tag_lists_are_read_too():
    described = {"db_instance_identifier": "a-1", "db_cluster_identifier": "a",
                 "tag_list": [{"Key": "dbops:phase", "Value": "candidate"}]}
    assert cluster.instance_plan("a", 1, [described])[0]["refresh_tags"] == {
        "dbops:phase": "candidate"}


def test_provisioning_keeps_the_refresh_tags_and_sets_its_own():
    existing = {"environment": "old", "team": "x", "dbops:refresh-id": "r1", "dbops:phase": "serving"}
    assert cluster.keep_refresh_tags({"environment": "acceptance", "project": "app"}, existing) == {
        "environment": "acceptance", "project": "app", "dbops:refresh-id": "r1",
        "dbops:phase": "serving"}
    assert cluster.keep_refresh_tags({"a": "b"}, {}) == {"a": "b"}
