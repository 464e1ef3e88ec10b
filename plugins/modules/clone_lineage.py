#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: clone_lineage
version_added: 0.2.0
short_description: Check a shared Aurora cluster can be cloned into this account, and make room for the clone
description:
  - The acceptance side of a clone refresh. Reads the production cluster shared with this
    account through AWS RAM (by its ARN) and refuses, naming every reason and changing nothing,
    what AWS would refuse or what would fail half-way
    - the cluster is in another region (clones stay in their region);
    - it is not visible to this account (not shared, or the RAM invitation not accepted);
    - it has no DB instance;
    - it is encrypted with a key this account cannot use, such as the AWS-managed C(aws/rds)
      key, which can never be shared;
    - this account already holds a clone of the same lineage (same C(CloneGroupId)) that is
      not this environment's own (AWS allows one cross-account clone of a lineage per account).
  - With O(state=cleared) it then makes room for the new clone. Each clone of the lineage that
    belongs to this environment (the canonical cluster, C(<canonical>-previous-*),
    C(<canonical>-undone-*), an older candidate), except O(candidate_identifier), is
    snapshotted as C(<canonical>-final-<its refresh id>) (the final snapshot a rollback
    restores), then deleted with its instances. It waits until they are gone, since AWS counts
    a clone until then. A rerun finds the snapshot and carries on.
  - Deleting the serving clone starts the refresh's downtime; it ends when the new clone is
    swapped in. The snapshot is taken while the old clone still serves.
  - In check mode nothing changes; RV(actions) says what would.
author:
  - dbops.aurora contributors (@dbops)
options:
  source_cluster:
    description:
      - The ARN of the production cluster shared with this account.
    type: str
    required: true
  canonical_identifier:
    description: The identifier the serving cluster has (applications' endpoint name).
    type: str
    required: true
  candidate_identifier:
    description:
      - The clone this run makes or resumes; never retired.
    type: str
  engine:
    description: The engine the source must run.
    type: str
    default: aurora-postgresql
  state:
    description:
      - V(checked) only reads and refuses. V(cleared) also retires this environment's clones of
        the lineage, as described above.
    type: str
    choices: [checked, cleared]
    default: checked
  final_snapshot_tags:
    description:
      - Tags for the final snapshots, beside the refresh's record (C(dbops:refresh-id),
        C(dbops:retired-at), C(dbops:source-cluster)).
    type: dict
    default: {}
  wait_timeout:
    description: Seconds to wait for the final snapshots and the deletions.
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
notes:
  - "IAM actions: rds:DescribeDBClusters, kms:DescribeKey on the source's key (granted by its
    key policy); with O(state=cleared) also rds:CreateDBClusterSnapshot, rds:AddTagsToResource,
    rds:DescribeDBClusterSnapshots, rds:ModifyDBCluster, rds:DeleteDBInstance,
    rds:DeleteDBCluster on this environment's clusters."
"""

EXAMPLES = r"""
- name: Check production's cluster can be cloned here
  dbops.aurora.clone_lineage:
    source_cluster: arn:aws:rds:eu-west-1:111111111111:cluster:app-production
    canonical_identifier: app-acceptance
  register: lineage

- name: Keep a final snapshot of the previous clone, then delete it
  dbops.aurora.clone_lineage:
    source_cluster: arn:aws:rds:eu-west-1:111111111111:cluster:app-production
    canonical_identifier: app-acceptance
    candidate_identifier: app-acceptance-r1a2b3c4d
    state: cleared
"""

RETURN = r"""
source:
  description: The shared cluster as this account sees it.
  returned: when visible
  type: dict
  contains:
    db_cluster_arn:
      description: Its ARN.
      type: str
    status:
      description: Its status.
      type: str
    engine_version:
      description: Its engine version.
      type: str
    clone_group_id:
      description: Its clone lineage.
      type: str
    kms_key_id:
      description: The key it is encrypted with.
      type: str
    latest_restorable_time:
      description: The moment a clone made now holds the data of (ISO 8601).
      type: str
    instances:
      description: How many DB instances it has.
      type: int
refusals:
  description: Why the cluster cannot be cloned here (the module fails when there is any).
  returned: always
  type: list
  elements: str
own:
  description: This environment's clones of the lineage, retired with O(state=cleared).
  returned: always
  type: list
  elements: str
retired:
  description: The clones deleted, each with its final snapshot.
  returned: always
  type: list
  elements: dict
  sample: [{"identifier": "app-acceptance", "final_snapshot": "app-acceptance-final-r0c1d2e3f"}]
actions:
  description: What was done (or, in check mode, would be).
  returned: always
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.dbops.aurora.plugins.module_utils import conventions
from ansible_collections.dbops.aurora.plugins.module_utils import ssm
from ansible_collections.dbops.aurora.plugins.module_utils._lock import FENCE_OPTION, Fence
from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import describe_key
from ansible_collections.dbops.aurora.plugins.module_utils.rds import (
    delete,
    delete_cluster_when_empty,
    describe_all,
    describe_cluster,
    describe_cluster_snapshot,
    retrying_client,
    tags_of,
    wait_until,
)
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    check_inputs,
    cluster_reference_problem,
    rds_identifier_problem,
)


def source_arn_problem(value):
    if not str(value).startswith("arn:"):
        return "must be a cluster ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME)"
    return cluster_reference_problem(value)


def key_refusal(module, key_id):
    """Why this account cannot use the source's key, or None."""
    key = describe_key(retrying_client(module, "kms"), key_id)
    if key is None:
        return ("its KMS key %s is not usable by this account: an AWS-managed key (aws/rds) can "
                "never be shared, and a customer-managed key must grant this account in its "
                "key policy" % key_id)
    if key.get("KeyManager") == "AWS":
        return ("it is encrypted with the AWS-managed key %s, which cannot be shared: AWS "
                "cannot clone it into another account" % key_id)
    return None


def refusals_for(module, source):
    """Every reason the source cannot be cloned into this account (empty when it can)."""
    params = module.params
    arn = params["source_cluster"]
    region = arn.split(":")[3]
    if source is None:
        return ["%s is not visible to this account: share it with this account through AWS RAM "
                "(playbooks/share_cluster.yml) and accept the invitation" % arn]
    found = []
    if region != module.region:
        found.append("it is in region %s and this account acts in %s: a clone stays in its "
                     "cluster's region" % (region, module.region))
    if source.get("Engine") != params["engine"]:
        found.append("it runs %s, not %s (engine)" % (source.get("Engine"), params["engine"]))
    if not source.get("DBClusterMembers"):
        found.append("it has no DB instance: AWS clones only a cluster with one")
    if source.get("StorageEncrypted") and source.get("KmsKeyId"):
        refusal = key_refusal(module, source["KmsKeyId"])
        if refusal:
            found.append(refusal)
    return found


def lineage(module, rds, source):
    clusters = describe_all(rds, "describe_db_clusters", "DBClusters")
    return conventions.lineage_plan(clusters, module.params["canonical_identifier"],
                                    (source or {}).get("CloneGroupId"),
                                    module.params["candidate_identifier"])


def final_snapshot_for(module, cluster):
    tags = tags_of(cluster)
    own_id = tags.get(conventions.REFRESH_ID_TAG)
    if not conventions.is_refresh_id(own_id):
        own_id = conventions.refresh_id(cluster["DBClusterArn"])
    return conventions.final_snapshot_name(module.params["canonical_identifier"].lower(), own_id), own_id


class Retirement:
    """Final snapshot, then deletion, of each own clone; resumable from what exists."""

    def __init__(self, module, rds, own):
        self.module, self.rds, self.own = module, rds, own
        self.fence = Fence(module)
        self.actions, self.retired, self.unprotected = [], [], []
        self.pending = {cluster["DBClusterIdentifier"]: cluster for cluster in own}

    def snapshot(self, cluster):
        """True once the final snapshot is available (taken now if it is missing)."""
        name, own_id = final_snapshot_for(self.module, cluster)
        found = describe_cluster_snapshot(self.rds, name)
        if found is None:
            if cluster.get("Status") == "deleting":
                return True  # a rerun: the snapshot went before the deletion
            tags = dict(self.module.params["final_snapshot_tags"])
            tags.update({conventions.REFRESH_ID_TAG: own_id,
                         conventions.RETIRED_AT_TAG: ssm.iso(ssm.utcnow()),
                         conventions.SOURCE_CLUSTER_TAG: self.module.params["source_cluster"]})
            self.fence.check()
            self.actions.append("final snapshot %s of %s" % (name, cluster["DBClusterIdentifier"]))
            try:
                self.rds.create_db_cluster_snapshot(
                    DBClusterSnapshotIdentifier=name, DBClusterIdentifier=cluster["DBClusterIdentifier"],
                    Tags=ansible_dict_to_boto3_tag_list(tags), aws_retry=True)
            except is_boto3_error_code("DBClusterSnapshotAlreadyExistsFault"):
                pass  # a retried call whose first attempt went through: the next pass finds it
            return False
        return found.get("Status") == "available"

    def step(self):
        """One pass over the clones still to retire; True when every one is gone."""
        self.fence.check()  # and a heartbeat at every poll
        for identifier in list(self.pending):
            cluster = describe_cluster(self.rds, identifier)
            if cluster is None:
                self.pending.pop(identifier)
                continue
            if not self.snapshot(cluster):
                continue
            if identifier not in [entry["identifier"] for entry in self.retired]:
                self.actions.append("delete %s and its instances" % identifier)
                self.retired.append({"identifier": identifier,
                                     "final_snapshot": final_snapshot_for(self.module, cluster)[0]})
                delete(self.rds, self.fence, cluster, self.unprotected)
            delete_cluster_when_empty(self.rds, self.fence, identifier)
        return not self.pending


def source_result(source):
    if source is None:
        return None
    result = camel_dict_to_snake_dict({key: source.get(key) for key in (
        "DBClusterArn", "Status", "EngineVersion", "CloneGroupId", "KmsKeyId")})
    restorable = source.get("LatestRestorableTime")
    result["latest_restorable_time"] = restorable.isoformat() if hasattr(restorable, "isoformat") else restorable
    result["instances"] = len(source.get("DBClusterMembers") or [])
    return result


def main():
    argument_spec = dict(
        source_cluster=dict(type="str", required=True),
        canonical_identifier=dict(type="str", required=True),
        candidate_identifier=dict(type="str"),
        engine=dict(type="str", default="aurora-postgresql"),
        state=dict(type="str", choices=["checked", "cleared"], default="checked"),
        final_snapshot_tags=dict(type="dict", default={}),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=10.0),
        lock=FENCE_OPTION,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    checks = {"source_cluster": (source_arn_problem, params["source_cluster"]),
              "canonical_identifier": (rds_identifier_problem, params["canonical_identifier"])}
    if params["candidate_identifier"]:
        checks["candidate_identifier"] = (rds_identifier_problem, params["candidate_identifier"])
    check_inputs(module, checks)
    rds = retrying_client(module, "rds")
    retirement = None
    try:
        source = describe_cluster(rds, params["source_cluster"])
        refusals = refusals_for(module, source)
        own, foreign = lineage(module, rds, source) if source else ([], [])
        for cluster in foreign:
            refusals.append("this account already holds %s, a clone of the same lineage that is "
                            "not %s's: AWS allows one cross-account clone of a cluster per "
                            "account; delete it or clone from another account"
                            % (cluster["DBClusterIdentifier"], params["canonical_identifier"]))
        result = dict(source=source_result(source), refusals=refusals,
                      own=[cluster["DBClusterIdentifier"] for cluster in own])
        if refusals:
            module.fail_json(msg="Cannot clone %s into this account: %s. Nothing was changed."
                             % (params["source_cluster"], "; ".join(refusals)),
                             actions=[], retired=[], **result)
        retirement = Retirement(module, rds, own)
        if params["state"] == "cleared" and own:
            if module.check_mode:
                for cluster in own:
                    name = final_snapshot_for(module, cluster)[0]
                    retirement.actions += ["final snapshot %s of %s" % (name, cluster["DBClusterIdentifier"]),
                                           "delete %s and its instances" % cluster["DBClusterIdentifier"]]
            else:
                done, dummy, seconds = wait_until(retirement.step, params["wait_timeout"],
                                                  delay=params["poll_interval"])
                if not done:
                    module.fail_json(msg="still retiring %s after %s seconds; rerun to continue"
                                     % (", ".join(sorted(retirement.pending)), seconds),
                                     actions=retirement.actions, retired=retirement.retired, **result)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="AWS call failed while checking the clone lineage of %s"
                             % params["source_cluster"],
                             actions=retirement.actions if retirement else [])
    module.exit_json(changed=bool(retirement.actions), actions=retirement.actions,
                     retired=retirement.retired, **result)


if __name__ == "__main__":
    main()
