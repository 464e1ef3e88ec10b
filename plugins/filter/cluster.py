# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the cluster role: which instances a cluster keeps, and which tags provisioning
must leave to the refresh."""

from ansible.errors import AnsibleFilterError
from ansible_collections.dbops.aurora.plugins.module_utils.conventions import refresh_owned_tags


def _tags(instance):
    tags = instance.get("tags")
    if isinstance(tags, dict):
        return tags
    return {tag["Key"]: tag["Value"] for tag in instance.get("tag_list") or []}


def instance_plan(cluster_identifier, count, instances):
    """The instances ``cluster_identifier`` should have: the ones it has (a refresh names them
    after the cluster it restored), then new ones named <cluster>-<n> with the smallest n no
    instance of the account uses (an instance keeps its name when its cluster is renamed).

    ``instances`` is every instance of the account, as amazon.aws.rds_instance_info returns
    them.  Each entry of the result is {db_instance_identifier, refresh_tags}: refresh_tags are
    the instance's dbops:* tags, which provisioning keeps."""
    try:
        count = int(count)
    except (TypeError, ValueError):
        raise AnsibleFilterError("instance_plan: count %r is not a number" % (count,))
    wanted = str(cluster_identifier).lower()
    members = sorted((i for i in instances or []
                      if str(i.get("db_cluster_identifier") or "").lower() == wanted),
                     key=lambda i: i["db_instance_identifier"])
    plan = [{"db_instance_identifier": i["db_instance_identifier"],
             "refresh_tags": refresh_owned_tags(_tags(i))} for i in members[:count]]
    taken = {str(i.get("db_instance_identifier", "")).lower() for i in instances or []}
    number = 0
    while len(plan) < count:
        number += 1
        name = "%s-%d" % (cluster_identifier, number)
        if name.lower() not in taken:
            plan.append({"db_instance_identifier": name, "refresh_tags": {}})
    return plan


def keep_refresh_tags(tags, existing):
    """``tags`` plus the dbops:* tags of ``existing`` (the refresh's record of a cluster)."""
    merged = dict(tags or {})
    merged.update(refresh_owned_tags(existing))
    return merged


class FilterModule:
    def filters(self):
        return {"instance_plan": instance_plan, "keep_refresh_tags": keep_refresh_tags}
