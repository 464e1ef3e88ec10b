#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: snapshot_info
short_description: Select Aurora cluster snapshots and explain the ones left out
version_added: 0.1.0
description:
  - Lists cluster snapshots visible to this account (by default the ones B(shared) with it by
    other accounts) and keeps those that pass every filter, newest first.
  - Counts, per reason, the snapshots each filter rejected, so a playbook can explain why nothing
    matched (RV(rejected), RV(rejection_summary)).
  - One paged listing with the largest page AWS allows (100) and no call per snapshot, so
    1,000 snapshots cost 10 API calls.
  - Never changes anything.
author:
  - dbops.aurora contributors (@dbops)
options:
  snapshot_type:
    description:
      - Which snapshots to list. V(shared) are the ones other accounts share with this one
        (listed with their ARN as identifier).
    type: str
    choices: [shared, manual, automated]
    default: shared
  source_account_ids:
    description:
      - Keep only snapshots owned by these accounts (12-digit ids; the owner is read from the snapshot ARN).
    type: list
    elements: str
  source_cluster_identifier:
    description:
      - Keep only snapshots taken of the cluster with this identifier.
    type: str
  engine:
    description:
      - Keep only snapshots of this engine, for example V(aurora-postgresql).
    type: str
  engine_version:
    description:
      - Keep only snapshots of exactly this engine version, for example V(16.4).
      - Mutually exclusive with O(engine_major_version).
    type: str
  engine_major_version:
    description:
      - Keep only snapshots whose engine version is this or starts with it and a dot
        (V(16) keeps V(16.4) and V(16.1), not V(160.1)).
    type: str
  status:
    description:
      - Keep only snapshots in this status. V(any) keeps every status.
    type: str
    default: available
  max_age:
    description:
      - Keep only snapshots created at most this many hours ago.
    type: float
  identifier_pattern:
    description:
      - Keep only snapshots whose name (for a shared snapshot, the part of the ARN after
        C(cluster-snapshot:)) matches this Python regular expression (searched, use C(^) and C($) to anchor).
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Filters are applied in this order and a snapshot is counted once, for the first filter
    that rejects it - source account, source cluster, identifier pattern, engine, engine
    version, status, age.
  - "IAM actions: rds:DescribeDBClusterSnapshots."
"""

EXAMPLES = r"""
- name: Newest available production snapshot of app-prod, PostgreSQL 16, at most a day old
  dbops.aurora.snapshot_info:
    source_account_ids: ["111111111111"]
    source_cluster_identifier: app-prod
    engine: aurora-postgresql
    engine_major_version: "16"
    max_age: 24
  register: found

- name: Explain why there is nothing to restore
  ansible.builtin.fail:
    msg: "No usable snapshot: {{ found.rejection_summary }}"
  when: found.latest is none

- name: Manual snapshots named nightly-*
  dbops.aurora.snapshot_info:
    snapshot_type: manual
    identifier_pattern: "^nightly-"
    status: any
"""

RETURN = r"""
snapshots:
  description:
    - The snapshots that passed every filter, newest first, with snake_case keys, tags as a dict and
      C(snapshot_name), C(owner_account_id), C(age_hours) and C(source_age_hours) (for a copy tagged
      C(dbops:source-created), the age of the snapshot it was copied from) added.
  returned: always
  type: list
  elements: dict
  sample:
    - db_cluster_snapshot_identifier: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-06-01
      db_cluster_snapshot_arn: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-06-01
      db_cluster_identifier: app-prod
      engine: aurora-postgresql
      engine_version: "16.4"
      status: available
      snapshot_create_time: "2024-06-01T02:00:03+00:00"
      snapshot_name: app-prod-2024-06-01
      owner_account_id: "111111111111"
      age_hours: 5.25
      tags: {}
latest:
  description: The newest snapshot that passed every filter (the first of RV(snapshots)), or null.
  returned: always
  type: dict
rejected:
  description:
    - How many snapshots each filter dropped, by reason - V(source_account), V(source_cluster),
      V(identifier_pattern), V(engine), V(engine_version), V(status), V(max_age). Reasons that
      dropped nothing are left out.
  returned: always
  type: dict
  sample: {source_account: 5, engine_version: 3, status: 1}
rejection_summary:
  description: RV(rejected) in words; empty when nothing was rejected.
  returned: always
  type: str
  sample: 5 from another account, 3 engine version 14.9 not 16.4, 1 still creating
total:
  description: How many snapshots the listing returned before filtering.
  returned: always
  type: int
  sample: 9
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import (
    age_hours,
    list_cluster_snapshots,
    owner_account_id,
    snapshot_name,
    snapshot_result,
)
from ansible_collections.dbops.aurora.plugins.module_utils.rds import retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    account_id_problem,
    check_inputs,
    compile_identifier_pattern,
    rds_identifier_problem,
)

# Statuses of a snapshot that is still being made.
IN_PROGRESS = ("creating", "copying")


def check_arguments(module):
    params = module.params
    check_inputs(module, {
        "source_account_ids": (account_id_problem, params["source_account_ids"] or []),
        "source_cluster_identifier": (rds_identifier_problem,
                                      params["source_cluster_identifier"]),
    })
    if params["max_age"] is not None and params["max_age"] < 0:
        module.fail_json(msg="Invalid input: max_age must be a number of hours, 0 or more",
                         invalid_fields=["max_age"])
    major = params["engine_major_version"]
    if major is not None and not (major.isdigit() and 0 < len(major) <= 3):
        module.fail_json(msg="Invalid input: engine_major_version %r must be a major version "
                             "number such as 16" % major, invalid_fields=["engine_major_version"])
    return compile_identifier_pattern(module)


def version_matches(version, params):
    if params["engine_version"]:
        return version == params["engine_version"]
    major = params["engine_major_version"]
    return not major or version == major or (version or "").startswith(major + ".")


def rejection(snapshot, params, pattern):
    """The first filter ``snapshot`` fails, as (reason, what it was instead), or None."""
    accounts = params["source_account_ids"]
    if accounts and owner_account_id(snapshot) not in accounts:
        return "source_account", owner_account_id(snapshot)
    cluster = params["source_cluster_identifier"]
    if cluster and (snapshot.get("DBClusterIdentifier") or "").lower() != cluster.lower():
        return "source_cluster", snapshot.get("DBClusterIdentifier")
    if params["identifier_pattern"] and not pattern.search(snapshot_name(snapshot)):
        return "identifier_pattern", snapshot_name(snapshot)
    if params["engine"] and snapshot.get("Engine") != params["engine"]:
        return "engine", snapshot.get("Engine")
    if not version_matches(snapshot.get("EngineVersion"), params):
        return "engine_version", snapshot.get("EngineVersion")
    if params["status"] != "any" and snapshot.get("Status") != params["status"]:
        return "status", snapshot.get("Status")
    age = age_hours(snapshot)
    if params["max_age"] is not None and (age is None or age > params["max_age"]):
        return "max_age", age
    return None


def describe_rejection(reason, count, seen, params):
    """One part of the summary, e.g. '3 engine version 14.9 not 16.4'."""
    values = ", ".join(sorted({str(value) for value in seen}))
    if reason == "source_account":
        return "%d from another account" % count
    if reason == "source_cluster":
        return "%d of cluster %s not %s" % (count, values, params["source_cluster_identifier"])
    if reason == "identifier_pattern":
        return "%d not matching %s" % (count, params["identifier_pattern"])
    if reason == "engine":
        return "%d engine %s not %s" % (count, values, params["engine"])
    if reason == "engine_version":
        wanted = params["engine_version"] or params["engine_major_version"] + ".x"
        return "%d engine version %s not %s" % (count, values, wanted)
    if reason == "max_age":
        return "%d older than %s hours" % (count, params["max_age"])
    return None


def describe_status_rejections(statuses):
    parts = []
    for status in sorted(set(statuses)):
        count = statuses.count(status)
        parts.append("%d still %s" % (count, status) if status in IN_PROGRESS
                     else "%d %s" % (count, status))
    return parts


def summarise(rejections, params):
    order = ("source_account", "source_cluster", "identifier_pattern", "engine",
             "engine_version", "status", "max_age")
    parts = []
    for reason in order:
        seen = rejections.get(reason, [])
        if not seen:
            continue
        if reason == "status":
            parts.extend(describe_status_rejections(seen))
        else:
            parts.append(describe_rejection(reason, len(seen), seen, params))
    return ", ".join(parts)


def select(snapshots, params, pattern):
    kept, rejections = [], {}
    for snapshot in snapshots:
        found = rejection(snapshot, params, pattern)
        if found is None:
            kept.append(snapshot)
        else:
            rejections.setdefault(found[0], []).append(found[1])
    # Newest first; equal times (snapshots taken together) in a stable, named order.
    kept.sort(key=lambda s: (s.get("SnapshotCreateTime"), s["DBClusterSnapshotIdentifier"]),
              reverse=True)
    return kept, rejections


def main():
    argument_spec = dict(
        snapshot_type=dict(type="str", choices=["shared", "manual", "automated"],
                           default="shared"),
        source_account_ids=dict(type="list", elements="str"),
        source_cluster_identifier=dict(type="str"),
        engine=dict(type="str"),
        engine_version=dict(type="str"),
        engine_major_version=dict(type="str"),
        status=dict(type="str", default="available"),
        max_age=dict(type="float"),
        identifier_pattern=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("engine_version", "engine_major_version")])
    pattern = check_arguments(module)
    client = retrying_client(module, "rds")
    try:
        listed = list_cluster_snapshots(client, module.params["snapshot_type"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Failed to list cluster snapshots")
    kept, rejections = select(listed, module.params, pattern)
    snapshots = [snapshot_result(snapshot) for snapshot in kept]
    module.exit_json(changed=False, snapshots=snapshots,
                     latest=snapshots[0] if snapshots else None,
                     rejected={reason: len(seen) for reason, seen in rejections.items()},
                     rejection_summary=summarise(rejections, module.params),
                     total=len(listed))


if __name__ == "__main__":
    main()
