#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: snapshot
short_description: Create, copy, share and delete Aurora cluster snapshots
version_added: 0.1.0
description:
  - Creates a manual snapshot of an Aurora cluster, or copies a snapshot (also one shared by
    another account, named by its ARN) and re-encrypts the copy under O(kms_key_id).
  - Shares the snapshot with other AWS accounts (the C(restore) attribute), at most 20 (an AWS limit).
  - Refuses to share a snapshot encrypted with the AWS-managed C(aws/rds) key, which AWS cannot
    share; copy it under a customer-managed key first (O(source_snapshot) and O(kms_key_id)).
  - Deletes the snapshot with O(state=absent).
  - An existing snapshot with the same name is never re-created; a second identical run changes nothing.
  - Every input is checked before any change is made.
author:
  - dbops.aurora contributors (@dbops)
options:
  db_cluster_snapshot_identifier:
    description:
      - Name of the snapshot to manage, in this account.
      - 1 to 63 letters, digits or hyphens, starting with a letter, no two consecutive hyphens,
        not ending with a hyphen.
    type: str
    required: true
    aliases: [snapshot_identifier]
  state:
    description:
      - V(present) creates or copies the snapshot when it does not exist, then applies tags and sharing.
      - V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  db_cluster_identifier:
    description:
      - The cluster to take the snapshot of.
      - Needed to create the snapshot when it does not exist yet; mutually exclusive with O(source_snapshot).
      - When the snapshot exists but was taken of another cluster, the module fails.
    type: str
  source_snapshot:
    description:
      - A snapshot to copy, by name (this account) or by ARN (this account, or shared by another account).
      - A snapshot shared by another account and encrypted needs O(kms_key_id).
    type: str
  kms_key_id:
    description:
      - KMS key (ID, ARN or alias) of this account to encrypt the copy of O(source_snapshot) with.
      - Use a customer-managed key when the copy is to be shared.
    type: str
  copy_tags:
    description:
      - Copy the tags of O(source_snapshot) to the copy.
    type: bool
    default: false
  engine:
    description:
      - When set, the cluster or source snapshot must run this engine (for example V(aurora-postgresql)),
        or the module fails before making any change.
    type: str
  shared_accounts:
    description:
      - AWS account ids (12 digits) the snapshot is shared with (may restore or copy it).
      - At most 20 accounts, an AWS limit.
      - When not set, sharing is left as it is.
      - AWS only shares an C(available) snapshot, so when sharing must change the module waits
        for the snapshot even with O(wait=false).
    type: list
    elements: str
  purge_shared_accounts:
    description:
      - Stop sharing with accounts not listed in O(shared_accounts).
      - Ignored when O(shared_accounts) is not set.
    type: bool
    default: true
  wait:
    description:
      - Wait until the snapshot is C(available) (or, with O(state=absent), gone).
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait before failing.
    type: int
    default: 1800
extends_documentation_fragment:
  - dbops.aurora.fence
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - Check mode reports in RV(actions) what would be done and changes nothing.
  - "IAM actions: rds:DescribeDBClusters, rds:DescribeDBClusterSnapshots, rds:CreateDBClusterSnapshot,
    rds:CopyDBClusterSnapshot, rds:DeleteDBClusterSnapshot, rds:DescribeDBClusterSnapshotAttributes,
    rds:ModifyDBClusterSnapshotAttribute, rds:AddTagsToResource, rds:RemoveTagsFromResource,
    kms:DescribeKey (and kms:CreateGrant on O(kms_key_id) to copy)."
"""

EXAMPLES = r"""
- name: Take a manual snapshot of production and share it with acceptance
  dbops.aurora.snapshot:
    db_cluster_snapshot_identifier: app-prod-2024-06-01
    db_cluster_identifier: app-prod
    shared_accounts: ["222222222222"]
    tags:
      purpose: acceptance-refresh

- name: Re-encrypt a snapshot taken under aws/rds with a shareable customer-managed key
  dbops.aurora.snapshot:
    db_cluster_snapshot_identifier: app-prod-2024-06-01-shareable
    source_snapshot: app-prod-2024-06-01
    kms_key_id: alias/dbops-snapshots
    shared_accounts: ["222222222222"]

- name: In acceptance, copy the shared production snapshot under acceptance's own key
  dbops.aurora.snapshot:
    db_cluster_snapshot_identifier: app-acc-copy-20240601
    source_snapshot: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-06-01
    kms_key_id: alias/dbops-acceptance
    wait_timeout: 3600

- name: Delete a snapshot
  dbops.aurora.snapshot:
    db_cluster_snapshot_identifier: app-prod-2024-05-01
    state: absent
"""

RETURN = r"""
snapshot:
  description:
    - The snapshot as RDS describes it, with snake_case keys, its tags as a dict and
      C(snapshot_name), C(owner_account_id), C(age_hours) and C(source_age_hours) (for a copy tagged
      C(dbops:source-created), the age of the snapshot it was copied from) added.
    - Null after O(state=absent). In check mode, for a snapshot not created yet, only the fields known in advance.
  returned: always
  type: dict
  sample:
    db_cluster_snapshot_identifier: app-prod-2024-06-01
    db_cluster_snapshot_arn: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-06-01
    db_cluster_identifier: app-prod
    engine: aurora-postgresql
    engine_version: "16.4"
    status: available
    snapshot_type: manual
    storage_encrypted: true
    kms_key_id: arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab
    tags: {purpose: acceptance-refresh}
    snapshot_name: app-prod-2024-06-01
    owner_account_id: "111111111111"
    age_hours: 0.02
shared_accounts:
  description: The accounts the snapshot is shared with afterwards (sorted).
  returned: always
  type: list
  elements: str
  sample: ["222222222222"]
shareable:
  description:
    - False when the snapshot is encrypted with the AWS-managed C(aws/rds) key, which AWS does
      not let anyone share (copy it under a customer-managed key first); true otherwise.
    - Null after O(state=absent).
  returned: always
  type: bool
  sample: true
actions:
  description: What the module did (or, in check mode, would do), in order.
  returned: always
  type: list
  elements: str
  sample: ["create snapshot app-prod-2024-06-01 of cluster app-prod", "share with 222222222222"]
waited_seconds:
  description: How many seconds the module waited for the snapshot to become available (or to go).
  returned: always
  type: float
  sample: 84.2
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    compare_aws_tags,
)

from ansible_collections.dbops.aurora.plugins.module_utils._lock import FENCE_OPTION, Fence
from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import (
    available_snapshot,
    describe_key,
    is_aws_managed_key,
    shared_account_ids,
    snapshot_result,
    snapshot_tags,
)
from ansible_collections.dbops.aurora.plugins.module_utils.rds import (
    describe_cluster,
    describe_cluster_snapshot,
    retrying_client,
    wait_until,
)
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    account_id_problem,
    check_inputs,
    parse_snapshot_arn,
    rds_identifier_problem,
    snapshot_reference_problem,
)

MAX_SHARED_ACCOUNTS = 20  # AWS limit per manual snapshot


class Run:
    """What one module run found and did: the clients, the actions and the wait time."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.rds = retrying_client(module, "rds")
        self.kms = retrying_client(module, "kms")
        self.actions = []
        self.waited = 0.0
        self.fence = Fence(module)

    def act(self, description, call=None, **params):
        """Record an action; perform it unless in check mode."""
        self.actions.append(description)
        if self.module.check_mode or call is None:
            return None
        try:
            return call(aws_retry=True, **params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            return self.module.fail_json_aws(error, msg="Failed to " + description,
                                             actions=self.actions)

    def fail(self, msg):
        self.module.fail_json(msg=msg, actions=self.actions)


# --- input checks: all before any change --------------------------------------------------

def check_arguments(module):
    params = module.params
    check_inputs(module, {
        "db_cluster_snapshot_identifier": (rds_identifier_problem,
                                           params["db_cluster_snapshot_identifier"]),
        "db_cluster_identifier": (rds_identifier_problem, params["db_cluster_identifier"]),
        "source_snapshot": (snapshot_reference_problem, params["source_snapshot"]),
        "shared_accounts": (account_id_problem, params["shared_accounts"] or []),
    })
    accounts = set(params["shared_accounts"] or [])
    if len(accounts) > MAX_SHARED_ACCOUNTS:
        module.fail_json(msg="Invalid input: shared_accounts lists %d accounts; AWS shares a "
                         "snapshot with at most %d" % (len(accounts), MAX_SHARED_ACCOUNTS),
                         invalid_fields=["shared_accounts"])
    if params["wait_timeout"] < 0:
        module.fail_json(msg="Invalid input: wait_timeout must not be negative",
                         invalid_fields=["wait_timeout"])


def check_engine(run, resource, what):
    engine = run.params["engine"]
    if engine and resource.get("Engine") != engine:
        run.fail("%s runs engine %s, not %s (engine)" % (what, resource.get("Engine"), engine))


def check_existing(run, snapshot):
    """An existing snapshot is kept, but it must be the one asked for."""
    params = run.params
    name = params["db_cluster_snapshot_identifier"]
    cluster = params["db_cluster_identifier"]
    if cluster and snapshot.get("DBClusterIdentifier", "").lower() != cluster.lower():
        run.fail("snapshot %s already exists but was taken of cluster %s, not %s "
                 "(db_cluster_identifier); choose another db_cluster_snapshot_identifier"
                 % (name, snapshot.get("DBClusterIdentifier"), cluster))
    source = params["source_snapshot"]
    copied_from = snapshot.get("SourceDBClusterSnapshotArn")
    if source and copied_from and not same_snapshot(source, copied_from):
        run.fail("snapshot %s already exists but is a copy of %s, not %s (source_snapshot)"
                 % (name, copied_from, source))
    check_engine(run, snapshot, "snapshot %s" % name)


def same_snapshot(reference, arn):
    if reference.startswith("arn:"):
        return reference.lower() == arn.lower()
    parts = parse_snapshot_arn(arn)
    return bool(parts) and parts["identifier"].lower() == reference.lower()


def check_cluster_source(run):
    """The cluster to snapshot: it must exist and be available. Returns its KMS key."""
    cluster_id = run.params["db_cluster_identifier"]
    cluster = describe_cluster(run.rds, cluster_id)
    if cluster is None:
        run.fail("db_cluster_identifier %r: no such cluster in this account and region"
                 % cluster_id)
    if cluster["Status"] != "available":
        run.fail("db_cluster_identifier %r: cluster is %s, AWS snapshots only an available "
                 "cluster" % (cluster_id, cluster["Status"]))
    check_engine(run, cluster, "cluster %s" % cluster_id)
    return cluster.get("KmsKeyId") if cluster.get("StorageEncrypted") else None


def check_snapshot_source(run):
    """The snapshot to copy: it must exist, be available, and be copyable. Returns the copy's key."""
    source_id = run.params["source_snapshot"]
    source = available_snapshot(run.rds, "source_snapshot", source_id, run.fail)
    check_engine(run, source, "source_snapshot %s" % source_id)
    key = run.params["kms_key_id"]
    if key:
        metadata = describe_key(run.kms, key)
        if metadata is None:
            run.fail("kms_key_id %r: no such KMS key usable by this account" % key)
        return metadata["Arn"]
    # AWS lists a snapshot shared by another account with its ARN as identifier; copying
    # one that is encrypted needs a key of this account (the owner's key is not ours).
    shared = source["DBClusterSnapshotIdentifier"].startswith("arn:")
    if shared and source.get("StorageEncrypted"):
        run.fail("source_snapshot %r is encrypted and shared by another account: set "
                 "kms_key_id to a KMS key of this account to copy it" % source_id)
    return source.get("KmsKeyId") if source.get("StorageEncrypted") else None


def current_shared_accounts(run, snapshot):
    if snapshot is None:
        return []
    try:
        return shared_account_ids(run.rds, snapshot["DBClusterSnapshotIdentifier"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        return run.module.fail_json_aws(error, msg="Failed to read who the snapshot is shared with")


def desired_shared_accounts(run, current):
    wanted = run.params["shared_accounts"]
    if wanted is None:
        return current
    desired = set(wanted) if run.params["purge_shared_accounts"] else set(wanted) | set(current)
    if len(desired) > MAX_SHARED_ACCOUNTS:
        run.fail("shared_accounts: the snapshot would be shared with %d accounts (%d already, "
                 "purge_shared_accounts=false); AWS allows at most %d"
                 % (len(desired), len(current), MAX_SHARED_ACCOUNTS))
    return sorted(desired)


def check_shareable(run, key_id, added):
    if added and is_aws_managed_key(run.kms, key_id):
        run.fail("cannot share snapshot %s with %s: it is encrypted with the AWS-managed key "
                 "aws/rds (%s), which AWS does not share. Copy it under a customer-managed key "
                 "first (state=present with source_snapshot=%s and kms_key_id=<your key>) and "
                 "share the copy." % (run.params["db_cluster_snapshot_identifier"],
                                      ", ".join(added), key_id,
                                      run.params["db_cluster_snapshot_identifier"]))


# --- changes ----------------------------------------------------------------------------

def create_or_copy(run):
    params = run.params
    name = params["db_cluster_snapshot_identifier"]
    tags = ansible_dict_to_boto3_tag_list(params["tags"] or {})
    if params["source_snapshot"]:
        copy_params = dict(SourceDBClusterSnapshotIdentifier=params["source_snapshot"],
                           TargetDBClusterSnapshotIdentifier=name, CopyTags=params["copy_tags"])
        if params["kms_key_id"]:
            copy_params["KmsKeyId"] = params["kms_key_id"]
        if tags:
            copy_params["Tags"] = tags
        result = run.act("copy snapshot %s to %s" % (params["source_snapshot"], name),
                         run.rds.copy_db_cluster_snapshot, **copy_params)
    else:
        create_params = dict(DBClusterIdentifier=params["db_cluster_identifier"],
                             DBClusterSnapshotIdentifier=name)
        if tags:
            create_params["Tags"] = tags
        result = run.act("create snapshot %s of cluster %s"
                         % (name, params["db_cluster_identifier"]),
                         run.rds.create_db_cluster_snapshot, **create_params)
    return result["DBClusterSnapshot"] if result else None


def wait_available(run, snapshot):
    name = snapshot["DBClusterSnapshotIdentifier"]

    def available():
        run.fence.check()  # a heartbeat at every poll
        current = describe_cluster_snapshot(run.rds, name)
        return current if current and current["Status"] == "available" else None

    result, _polls, seconds = wait_until(available, run.params["wait_timeout"])
    run.waited += seconds
    if result is None:
        current = describe_cluster_snapshot(run.rds, name) or {}
        run.fail("snapshot %s is still %s after %s seconds (wait_timeout)"
                 % (name, current.get("Status", "missing"), seconds))
    return result


def apply_tags(run, snapshot):
    if run.params["tags"] is None:
        return
    to_set, to_unset = compare_aws_tags(snapshot_tags(snapshot), run.params["tags"],
                                        run.params["purge_tags"])
    arn = snapshot["DBClusterSnapshotArn"]
    if to_unset:
        run.act("remove tags %s" % ", ".join(sorted(to_unset)), run.rds.remove_tags_from_resource,
                ResourceName=arn, TagKeys=to_unset)
    if to_set:
        run.act("set tags %s" % ", ".join(sorted(to_set)), run.rds.add_tags_to_resource,
                ResourceName=arn, Tags=ansible_dict_to_boto3_tag_list(to_set))


def apply_sharing(run, name, current, desired):
    added = sorted(set(desired) - set(current))
    removed = sorted(set(current) - set(desired))
    if not added and not removed:
        return
    params = dict(DBClusterSnapshotIdentifier=name, AttributeName="restore")
    if added:
        params["ValuesToAdd"] = added
    if removed:
        params["ValuesToRemove"] = removed
    description = "; ".join(part for part in (
        "share with %s" % ", ".join(added) if added else "",
        "stop sharing with %s" % ", ".join(removed) if removed else "") if part)
    run.act(description, run.rds.modify_db_cluster_snapshot_attribute, **params)


# --- states -----------------------------------------------------------------------------

def planned_snapshot(run, key_id):
    params = run.params
    return {"db_cluster_snapshot_identifier": params["db_cluster_snapshot_identifier"],
            "db_cluster_identifier": params["db_cluster_identifier"],
            "source_snapshot": params["source_snapshot"], "kms_key_id": key_id,
            "storage_encrypted": bool(key_id), "tags": params["tags"] or {}}


def ensure_present(run):
    params = run.params
    name = params["db_cluster_snapshot_identifier"]
    snapshot = describe_cluster_snapshot(run.rds, name)
    if snapshot is not None:
        check_existing(run, snapshot)
        key_id = snapshot.get("KmsKeyId") if snapshot.get("StorageEncrypted") else None
    elif params["source_snapshot"]:
        key_id = check_snapshot_source(run)
    elif params["db_cluster_identifier"]:
        key_id = check_cluster_source(run)
    else:
        run.fail("snapshot %s does not exist: set db_cluster_identifier to create it or "
                 "source_snapshot to copy it" % name)
    before = {"exists": snapshot is not None, "tags": snapshot_tags(snapshot or {}),
              "shared_accounts": current_shared_accounts(run, snapshot)}
    desired = desired_shared_accounts(run, before["shared_accounts"])
    check_shareable(run, key_id, sorted(set(desired) - set(before["shared_accounts"])))

    run.fence.check()
    if snapshot is None:
        snapshot = create_or_copy(run)
    else:
        apply_tags(run, snapshot)
    must_share = desired != before["shared_accounts"]
    if snapshot is not None and (params["wait"] or must_share) \
            and snapshot["Status"] != "available":
        snapshot = wait_available(run, snapshot)
    apply_sharing(run, name, before["shared_accounts"], desired)

    if run.module.check_mode:
        result = snapshot_result(snapshot) if snapshot else planned_snapshot(run, key_id)
    else:
        result = snapshot_result(describe_cluster_snapshot(run.rds, name))
    after = {"exists": True, "tags": result.get("tags", {}), "shared_accounts": desired}
    if run.module.check_mode and params["tags"] is not None:
        after["tags"] = planned_tags(before["tags"], params["tags"], params["purge_tags"])
    finish(run, result, desired, before, after,
           shareable=not is_aws_managed_key(run.kms, key_id))


def planned_tags(current, wanted, purge):
    to_set, to_unset = compare_aws_tags(current, wanted, purge)
    tags = {key: value for key, value in current.items() if key not in to_unset}
    tags.update(to_set)
    return tags


def ensure_absent(run):
    name = run.params["db_cluster_snapshot_identifier"]
    snapshot = describe_cluster_snapshot(run.rds, name)
    before = {"exists": snapshot is not None, "tags": snapshot_tags(snapshot or {}),
              "shared_accounts": current_shared_accounts(run, snapshot)}
    if snapshot is not None and snapshot["Status"] != "deleting":
        run.act("delete snapshot %s" % name, run.rds.delete_db_cluster_snapshot,
                DBClusterSnapshotIdentifier=name)
    if snapshot is not None and run.params["wait"] and not run.module.check_mode:
        wait_gone(run, name)
    finish(run, None, [], before, {"exists": False, "tags": {}, "shared_accounts": []})


def wait_gone(run, name):
    def gone():
        try:
            return describe_cluster_snapshot(run.rds, name) is None
        except is_boto3_error_code("DBClusterSnapshotNotFoundFault"):
            return True

    result, _polls, seconds = wait_until(gone, run.params["wait_timeout"])
    run.waited += seconds
    if not result:
        run.fail("snapshot %s still exists after %s seconds (wait_timeout)" % (name, seconds))


def finish(run, snapshot, shared, before, after, shareable=None):
    run.module.exit_json(changed=bool(run.actions), snapshot=snapshot, shared_accounts=shared,
                         shareable=shareable, actions=run.actions,
                         waited_seconds=round(run.waited, 2),
                         diff={"before": before, "after": after})


def main():
    argument_spec = dict(
        db_cluster_snapshot_identifier=dict(type="str", required=True,
                                            aliases=["snapshot_identifier"]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        db_cluster_identifier=dict(type="str"),
        source_snapshot=dict(type="str"),
        kms_key_id=dict(type="str"),
        copy_tags=dict(type="bool", default=False),
        engine=dict(type="str"),
        shared_accounts=dict(type="list", elements="str"),
        purge_shared_accounts=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        lock=FENCE_OPTION,
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("db_cluster_identifier", "source_snapshot")],
        required_by={"kms_key_id": "source_snapshot"},
    )
    check_arguments(module)
    run = Run(module)
    try:
        if module.params["state"] == "absent":
            ensure_absent(run)
        else:
            ensure_present(run)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="RDS or KMS call failed for snapshot %s"
                             % module.params["db_cluster_snapshot_identifier"],
                             actions=run.actions)


if __name__ == "__main__":
    main()
