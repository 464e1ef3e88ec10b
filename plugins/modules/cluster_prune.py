#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_prune
version_added: 0.2.0
short_description: Keep the newest previous Aurora clusters of a refresh, delete the older ones
description:
  - Lists the clusters put aside from I(canonical_identifier) by a refresh or a rollback
    (C(<canonical>-previous-*), C(<canonical>-undone-*)), keeps the I(keep_previous) that
    stopped serving last (tag C(dbops:retired-at), not creation time, since a rollback puts an
    older cluster back) and deletes the others with their instances, without a final snapshot
    (acceptance data is a copy).
  - Also deletes the new clusters that failed or undone runs left
    (C(<canonical>-r<8 hex digits>) tagged C(dbops:phase) C(candidate), C(swap-failed) or
    C(rolled-back)), except those of I(refresh_id), which a rerun of that refresh reuses.
  - Deletion protection on a cluster it deletes is turned off first. These clusters are the
    refresh's own copies; the serving cluster keeps its protection.
  - Never deletes the cluster at I(canonical_identifier) nor one tagged C(environment=production).
  - In check mode nothing is deleted; the result says what would be.
author:
  - dbops.aurora contributors (@dbops)
options:
  canonical_identifier:
    description: The identifier the serving cluster has (applications' endpoint name).
    type: str
    required: true
  keep_previous:
    description: How many clusters put aside to keep for rollback.
    type: int
    default: 1
  refresh_id:
    description:
      - The refresh under way (C(r) and 8 hex digits). Its left-behind candidate is kept.
    type: str
  wait:
    description: Wait until every deleted cluster is gone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the deletions.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two polls while waiting.
    type: float
    default: 10.0
extends_documentation_fragment:
  - dbops.aurora.fence
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Keep one previous cluster, delete older ones and abandoned candidates
  dbops.aurora.cluster_prune:
    canonical_identifier: app-acceptance
    keep_previous: 1
    refresh_id: r5123b6c2
  register: pruned

- name: Say what went
  ansible.builtin.debug:
    msg: "deleted {{ pruned.deleted | join(', ') or 'nothing' }}"
"""

RETURN = r"""
kept:
  description: The clusters kept, each with why.
  returned: always
  type: list
  elements: dict
  sample: [{"identifier": "app-acceptance-previous-r5123b6c2", "reason": "one of the 1 put aside last"}]
expired:
  description: The clusters deleted (or that would be in check mode), each with why.
  returned: always
  type: list
  elements: dict
  sample: [{"identifier": "app-acceptance-previous-r0a1b2c3d", "reason": "put aside before the 1 kept"}]
deleted:
  description: The identifiers deleted by this run (empty in check mode).
  returned: always
  type: list
  elements: str
  sample: ["app-acceptance-previous-r0a1b2c3d"]
unprotected:
  description: The clusters whose deletion protection was turned off before deleting them.
  returned: always
  type: list
  elements: str
  sample: []
seconds:
  description: Seconds spent waiting for the deletions.
  returned: always
  type: float
  sample: 42.5
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.dbops.aurora.plugins.module_utils import conventions
from ansible_collections.dbops.aurora.plugins.module_utils._lock import FENCE_OPTION, Fence
from ansible_collections.dbops.aurora.plugins.module_utils.rds import delete
from ansible_collections.dbops.aurora.plugins.module_utils.rds import delete_cluster_when_empty
from ansible_collections.dbops.aurora.plugins.module_utils.rds import describe_all
from ansible_collections.dbops.aurora.plugins.module_utils.rds import describe_cluster
from ansible_collections.dbops.aurora.plugins.module_utils.rds import retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.rds import wait_until
from ansible_collections.dbops.aurora.plugins.module_utils.validation import check_inputs
from ansible_collections.dbops.aurora.plugins.module_utils.validation import rds_identifier_problem


def refresh_id_problem(value):
    if not conventions.is_refresh_id(value):
        return "must be r followed by 8 hexadecimal digits, as the refresh names its clusters"
    return None


def as_listed(cluster):
    """The shape the conventions read (as amazon.aws.rds_cluster_info returns clusters)."""
    created = cluster.get("ClusterCreateTime")
    return {"db_cluster_identifier": cluster["DBClusterIdentifier"],
            "cluster_create_time": created.isoformat() if hasattr(created, "isoformat") else created,
            "tags": boto3_tag_list_to_ansible_dict(cluster.get("TagList", [])),
            "raw": cluster}


def main():
    argument_spec = dict(
        canonical_identifier=dict(type="str", required=True),
        keep_previous=dict(type="int", default=1),
        refresh_id=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=10.0),
        lock=FENCE_OPTION,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    check_inputs(module, {"canonical_identifier": (rds_identifier_problem, params["canonical_identifier"]),
                          "refresh_id": (refresh_id_problem, params["refresh_id"])})
    if params["keep_previous"] < 0 or params["wait_timeout"] < 1 or params["poll_interval"] <= 0:
        module.fail_json(msg="Invalid input: keep_previous must be at least 0, wait_timeout at "
                             "least 1 and poll_interval more than 0",
                         invalid_fields=["keep_previous", "wait_timeout", "poll_interval"])
    client = retrying_client(module, "rds")
    fence = Fence(module)
    unprotected, deleted = [], []
    try:
        clusters = [as_listed(cluster) for cluster
                    in describe_all(client, "describe_db_clusters", "DBClusters")]
        kept, expired = conventions.retention_plan(clusters, params["canonical_identifier"],
                                                   params["keep_previous"], params["refresh_id"])
        if not module.check_mode:
            for cluster, dummy in expired:
                delete(client, fence, cluster["raw"], unprotected)
            waiting = [cluster["db_cluster_identifier"] for cluster, dummy in expired]

            def all_going():
                fence.check()  # a heartbeat at every poll
                waiting[:] = [identifier for identifier in waiting
                              if not delete_cluster_when_empty(client, fence, identifier)]
                if waiting or not params["wait"]:
                    return not waiting
                return all(describe_cluster(client, cluster["db_cluster_identifier"]) is None
                           for cluster, dummy in expired)

            done, dummy, seconds = wait_until(all_going, params["wait_timeout"],
                                              delay=params["poll_interval"])
            deleted = [cluster["db_cluster_identifier"] for cluster, dummy in expired]
            if not done:
                module.fail_json(msg="the expired clusters were not gone after %s seconds; rerun "
                                     "to continue: %s" % (seconds, ", ".join(deleted)),
                                 deleted=deleted, unprotected=unprotected)
        else:
            seconds = 0.0
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="RDS call failed while pruning previous clusters",
                             deleted=deleted, unprotected=unprotected)

    def described(pairs):
        return [{"identifier": cluster["db_cluster_identifier"], "reason": reason}
                for cluster, reason in pairs]

    module.exit_json(changed=bool(expired), kept=described(kept), expired=described(expired),
                     deleted=deleted, unprotected=unprotected, seconds=seconds)


if __name__ == "__main__":
    main()
