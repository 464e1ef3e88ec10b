#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: snapshot_prune
short_description: Delete old manual Aurora cluster snapshots, never one still needed
version_added: 0.1.0
description:
  - Deletes the manual cluster snapshots of O(db_cluster_identifier) (and/or whose name matches
    O(identifier_pattern)) that no retention rule keeps.
  - A snapshot is kept when O(keep_newest) or O(keep_days) keeps it (either rule is enough).
  - A snapshot is never deleted while an SSM parameter of O(protected_parameters) references it
    (by name or ARN), nor while it is in use - its status is not C(available) (being created or
    copied), a copy of it is still being made, or a cluster or snapshot tagged
    C(dbops:source-snapshot) with its name or ARN is not yet C(available) (a restore or copy
    in progress).
  - Returns what it deleted and what it kept, each with the reason.
author:
  - dbops.aurora contributors (@dbops)
options:
  db_cluster_identifier:
    description:
      - Prune the manual snapshots taken of this cluster.
      - At least one of O(db_cluster_identifier) and O(identifier_pattern) is required; with both,
        a snapshot must match both.
    type: str
  identifier_pattern:
    description:
      - Prune the manual snapshots whose name matches this Python regular expression (searched;
        use C(^) and C($) to anchor).
    type: str
  keep_newest:
    description:
      - Keep this many of the newest C(available) snapshots.
      - At least one of O(keep_newest) and O(keep_days) is required.
    type: int
  keep_days:
    description:
      - Keep snapshots created less than this many days ago.
    type: int
  protected_parameters:
    description:
      - SSM parameter names (paths) whose values name snapshots (name or ARN) that must never be
        deleted, such as the refresh's C(latest) and C(current) pointers.
      - A parameter that does not exist protects nothing and is not an error.
    type: list
    elements: str
    default: []
  protected_snapshots:
    description:
      - Snapshots (names or ARNs) that must never be deleted, whatever the retention says.
      - For references this account cannot read itself, such as the acceptance account's
        pointers to snapshots production shares with it.
    type: list
    elements: str
    default: []
  keep_shared_hours:
    description:
      - Keep every snapshot shared with another account (its C(restore) attribute names one)
        until it is this many hours old, whatever O(keep_newest) and O(keep_days) say.
      - For the production side of the refresh, which runs with production's credentials only
        and cannot see whether acceptance has already copied a snapshot. Acceptance copies a
        snapshot into its own account when it records it as latest and never selects one older
        than its maximum age, so set this to acceptance's C(refresh_max_age_hours) or more.
    type: int
  count_shared_only:
    description:
      - Count only snapshots shared with another account for O(keep_newest). An C(available)
        snapshot that is shared with no account and is older than the newest shared one was
        left by a run that failed before sharing it; it is deleted unless a pointer, a copy in
        progress or O(keep_days) keeps it.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Check mode lists in RV(deleted) what would be deleted and deletes nothing.
  - "IAM actions: rds:DescribeDBClusterSnapshots, rds:DescribeDBClusters,
    rds:DeleteDBClusterSnapshot, ssm:GetParameters; with O(keep_shared_hours) or
    O(count_shared_only) also rds:DescribeDBClusterSnapshotAttributes."
"""

EXAMPLES = r"""
- name: Keep the 3 newest and a week of snapshots of app-prod, never the ones the pointers name
  dbops.aurora.snapshot_prune:
    db_cluster_identifier: app-prod
    keep_newest: 3
    keep_days: 7
    protected_parameters:
      - /dbops/acceptance/snapshot/latest
      - /dbops/acceptance/snapshot/current

- name: In production, keep what acceptance's pointers name (read there, passed in here)
  dbops.aurora.snapshot_prune:
    db_cluster_identifier: app-prod
    keep_newest: 3
    protected_snapshots: "{{ acceptance_pointer_values }}"

- name: In production with production's credentials only (AWX), keep what acceptance may still copy
  dbops.aurora.snapshot_prune:
    db_cluster_identifier: app-prod
    identifier_pattern: "^app-prod-[0-9]{8}"
    keep_newest: 3
    keep_shared_hours: 72
    count_shared_only: true

- name: Show what would go among the refresh copies
  dbops.aurora.snapshot_prune:
    identifier_pattern: "^app-acc-copy-"
    keep_newest: 2
  check_mode: true
"""

RETURN = r"""
deleted:
  description: The snapshots deleted (in check mode, the ones that would be), newest first.
  returned: always
  type: list
  elements: dict
  contains:
    db_cluster_snapshot_identifier:
      description: The snapshot name.
      type: str
    db_cluster_snapshot_arn:
      description: The snapshot ARN.
      type: str
    snapshot_create_time:
      description: When the snapshot was taken.
      type: str
    status:
      description: The snapshot status when listed.
      type: str
    shared_accounts:
      description:
        - The accounts it is shared with; only read with O(keep_shared_hours) or
          O(count_shared_only), otherwise null.
      type: list
      elements: str
    reason:
      description: Why it was deleted.
      type: str
  sample:
    - db_cluster_snapshot_identifier: app-prod-2024-05-01
      db_cluster_snapshot_arn: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01
      snapshot_create_time: "2024-05-01T02:00:00+00:00"
      status: available
      shared_accounts: null
      reason: beyond retention (not among the 3 newest, older than 7 days)
kept:
  description: The snapshots kept, newest first, with the same keys as RV(deleted).
  returned: always
  type: list
  elements: dict
  sample:
    - db_cluster_snapshot_identifier: app-prod-2024-06-01
      db_cluster_snapshot_arn: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-06-01
      snapshot_create_time: "2024-06-01T02:00:00+00:00"
      status: available
      shared_accounts: ["222222222222"]
      reason: referenced by SSM parameter /dbops/acceptance/snapshot/current
"""

import datetime
import json

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbops.aurora.plugins.module_utils.conventions import SOURCE_SNAPSHOT_TAG
from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import (
    age_hours,
    list_cluster_snapshots,
    references,
    shared_account_ids,
    snapshot_tags,
)
from ansible_collections.dbops.aurora.plugins.module_utils.rds import (
    describe_all,
    retrying_client,
)
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    check_inputs,
    compile_identifier_pattern,
    rds_identifier_problem,
    snapshot_reference_problem,
    ssm_path_problem,
)

SSM_BATCH = 10  # GetParameters takes at most 10 names


def check_arguments(module):
    params = module.params
    check_inputs(module, {
        "db_cluster_identifier": (rds_identifier_problem, params["db_cluster_identifier"]),
        "protected_parameters": (ssm_path_problem, params["protected_parameters"]),
        # A typo here would protect nothing: every name or ARN must be one.
        "protected_snapshots": (snapshot_reference_problem, params["protected_snapshots"]),
    })
    for field in ("keep_newest", "keep_days", "keep_shared_hours"):
        if params[field] is not None and params[field] < 0:
            module.fail_json(msg="Invalid input: %s must be 0 or more" % field,
                             invalid_fields=[field])
    return compile_identifier_pattern(module)


# --- what protects a snapshot -------------------------------------------------------------

def strings_in(value):
    """Every string in a parameter value: a plain name or ARN, a StringList, or JSON."""
    try:
        data = json.loads(value)
    except ValueError:
        return {part.strip() for part in value.split(",") if part.strip()}
    found = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            found.add(item)
    return found


def pointer_references(module, names):
    """{lower-case snapshot name or ARN: parameter name} for every protected parameter."""
    if not names:
        return {}
    ssm = retrying_client(module, "ssm")
    found = {}
    for start in range(0, len(names), SSM_BATCH):
        try:
            result = ssm.get_parameters(Names=names[start:start + SSM_BATCH], aws_retry=True)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            module.fail_json_aws(error, msg="Failed to read protected_parameters")
        # Missing parameters come back in InvalidParameters: they protect nothing.
        for parameter in result.get("Parameters", []):
            for value in strings_in(parameter.get("Value", "")):
                found.setdefault(value.lower(), parameter["Name"])
    return found


def busy_sources(snapshots, clusters):
    """{lower-case snapshot name or ARN: why} for snapshots a running copy or restore reads."""
    busy = {}
    for snapshot in snapshots:
        if snapshot.get("Status") == "available":
            continue
        why = "a copy of it (%s) is %s" % (snapshot["DBClusterSnapshotIdentifier"],
                                           snapshot.get("Status"))
        for source in (snapshot.get("SourceDBClusterSnapshotArn"),
                       snapshot_tags(snapshot).get(SOURCE_SNAPSHOT_TAG)):
            if source:
                busy.setdefault(source.lower(), why)
    for cluster in clusters:
        source = snapshot_tags(cluster).get(SOURCE_SNAPSHOT_TAG)
        if source and cluster.get("Status") != "available":
            busy.setdefault(source.lower(), "cluster %s restored from it is %s"
                            % (cluster["DBClusterIdentifier"], cluster.get("Status")))
    return busy


# --- the decision -----------------------------------------------------------------------

def candidates(snapshots, params, pattern):
    cluster = (params["db_cluster_identifier"] or "").lower()
    chosen = [s for s in snapshots
              if (not cluster or (s.get("DBClusterIdentifier") or "").lower() == cluster)
              and (not params["identifier_pattern"]
                   or pattern.search(s["DBClusterSnapshotIdentifier"]))]
    chosen.sort(key=lambda s: (s.get("SnapshotCreateTime"), s["DBClusterSnapshotIdentifier"]),
                reverse=True)
    return chosen


def retention_reason(snapshot, rank, params, now):
    """Why retention keeps this snapshot, or None. ``rank`` counts the snapshots that count."""
    keep_newest, keep_days = params["keep_newest"], params["keep_days"]
    if keep_newest is not None and rank is not None and rank < keep_newest:
        return "one of the %d newest" % keep_newest
    created = snapshot.get("SnapshotCreateTime")
    if keep_days is not None and created and now - created < datetime.timedelta(days=keep_days):
        return "younger than %d days" % keep_days
    return None


def sharing_reason(snapshot, shared, params, now):
    """Why sharing keeps this snapshot, or None: another account may still copy it."""
    hours = params["keep_shared_hours"]
    age = age_hours(snapshot, now)
    if hours is None or not shared or age is None or age >= hours:
        return None
    return ("shared with %s %.1f hours ago, less than keep_shared_hours=%d: that account may "
            "still copy it, and this job cannot see whether it has"
            % (", ".join(shared), age, hours))


def deletion_reason(params):
    rules = []
    if params["keep_newest"] is not None:
        rules.append("not among the %d newest" % params["keep_newest"])
    if params["keep_days"] is not None:
        rules.append("older than %d days" % params["keep_days"])
    return "beyond retention (%s)" % ", ".join(rules)


def decide(chosen, protected, busy, params, shared_with=None):
    """Split the chosen snapshots into (keep, delete), each entry with its reason.

    ``shared_with(snapshot)`` gives the accounts a snapshot is shared with (None when sharing
    does not matter to the retention asked for)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    keep, delete = [], []
    rank = 0
    newest_shared_seen = False
    for snapshot in chosen:
        names = references(snapshot)
        shared = None
        why_delete = deletion_reason(params)
        if snapshot.get("Status") != "available":
            reason = "in use: status %s" % snapshot.get("Status")
        else:
            shared = shared_with(snapshot) if shared_with else None
            reason = next(("in use: " + busy[name] for name in names if name in busy), None)
            reason = reason or next((protection(protected[name])
                                     for name in names if name in protected), None)
            if not params["count_shared_only"] or shared:
                reason = reason or retention_reason(snapshot, rank, params, now)
                rank += 1
            elif not newest_shared_seen:
                # Unshared and newer than every shared one: a share may still be under way.
                reason = reason or "not shared yet, newer than every shared snapshot"
            else:
                reason = reason or retention_reason(snapshot, None, params, now)
                why_delete = ("never shared, older than a shared snapshot: left by a run that "
                              "failed before sharing it")
            reason = reason or sharing_reason(snapshot, shared, params, now)
            newest_shared_seen = newest_shared_seen or bool(shared)
        (keep if reason else delete).append(entry(snapshot, reason or why_delete, shared))
    return keep, delete


def protection(source):
    if source == "protected_snapshots":
        return "listed in protected_snapshots"
    return "referenced by SSM parameter " + source


def entry(snapshot, reason, shared=None):
    created = snapshot.get("SnapshotCreateTime")
    return {"db_cluster_snapshot_identifier": snapshot["DBClusterSnapshotIdentifier"],
            "db_cluster_snapshot_arn": snapshot.get("DBClusterSnapshotArn"),
            "snapshot_create_time": created.isoformat() if created else None,
            "status": snapshot.get("Status"), "shared_accounts": shared, "reason": reason}


def delete_snapshots(module, client, delete):
    done = []
    for item in delete:
        try:
            client.delete_db_cluster_snapshot(
                DBClusterSnapshotIdentifier=item["db_cluster_snapshot_identifier"],
                aws_retry=True)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            module.fail_json_aws(error, msg="Failed to delete snapshot %s"
                                 % item["db_cluster_snapshot_identifier"], deleted=done)
        done.append(item)


def main():
    argument_spec = dict(
        db_cluster_identifier=dict(type="str"),
        identifier_pattern=dict(type="str"),
        keep_newest=dict(type="int"),
        keep_days=dict(type="int"),
        protected_parameters=dict(type="list", elements="str", default=[]),
        protected_snapshots=dict(type="list", elements="str", default=[]),
        keep_shared_hours=dict(type="int"),
        count_shared_only=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec, supports_check_mode=True,
        required_one_of=[("db_cluster_identifier", "identifier_pattern"),
                         ("keep_newest", "keep_days")])
    pattern = check_arguments(module)
    client = retrying_client(module, "rds")
    protected = pointer_references(module, module.params["protected_parameters"])
    for name in module.params["protected_snapshots"]:
        protected.setdefault(name.lower(), "protected_snapshots")
    try:
        # Every manual snapshot, not only the candidates: a copy in progress of a candidate
        # may belong to another cluster's listing.
        snapshots = list_cluster_snapshots(client, "manual")
        clusters = describe_all(client, "describe_db_clusters", "DBClusters")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Failed to list snapshots and clusters")
    chosen = candidates(snapshots, module.params, pattern)

    def shared_with(snapshot):
        try:
            return shared_account_ids(client, snapshot["DBClusterSnapshotIdentifier"])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            return module.fail_json_aws(error, msg="Failed to read who %s is shared with"
                                        % snapshot["DBClusterSnapshotIdentifier"])

    sharing_matters = (module.params["keep_shared_hours"] is not None
                       or module.params["count_shared_only"])
    keep, delete = decide(chosen, protected, busy_sources(snapshots, clusters), module.params,
                          shared_with if sharing_matters else None)
    if not module.check_mode:
        delete_snapshots(module, client, delete)
    before = sorted(s["DBClusterSnapshotIdentifier"] for s in chosen)
    module.exit_json(changed=bool(delete), deleted=delete, kept=keep,
                     diff={"before": {"snapshots": before},
                           "after": {"snapshots": sorted(k["db_cluster_snapshot_identifier"]
                                                         for k in keep)}})


if __name__ == "__main__":
    main()
