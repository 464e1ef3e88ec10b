#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: snapshot_pointer
version_added: 0.1.0
short_description: Manage the latest and current snapshot pointers of the acceptance refresh
description:
  - Keeps two SSM Parameter Store parameters that drive the refresh of an acceptance
    environment from production snapshots.
  - C(latest) names the newest usable snapshot (recorded by phase 1); C(current) names the
    snapshot the next restore uses (phase 2 promotes latest to current).
  - I(current) can be pinned to a chosen snapshot, for a restore on purpose outside the
    schedule; while pinned, C(promote) leaves it alone and says so.
  - Every value written is first validated, before anything changes. The snapshot must exist,
    be visible to this account (its own, or shared with it and named by ARN), be C(available)
    and be of I(engine).
  - The value written is always the snapshot's ARN, so the same snapshot named by identifier
    or by ARN is one value, and a restore in this account can use it as it is.
  - Pinned state is the tag C(dbops:pinned=true) on the I(current_parameter), with
    C(dbops:pinned-at) recording when. C(pin) sets the tag before it writes the value, so a
    concurrent C(promote) either sees the pin or is detected as a concurrent change.
  - Concurrent changes are detected with the parameter version. The module reads version N and
    writes, and SSM must answer N + 1. Otherwise another writer got in between. When that
    writer's value differs from ours, the module puts their value back (so their update is not
    lost), undoes a pin tag it had just added, and fails naming both versions.
  - In check mode nothing is written; the result shows the values the run would leave.
author:
  - dbops.aurora contributors (@dbops)
options:
  operation:
    description:
      - C(read) reports both pointers and changes nothing.
      - C(record_latest) sets I(latest_parameter) to I(snapshot).
      - C(promote) copies the snapshot named by I(latest_parameter) to I(current_parameter),
        unless current is pinned; the latest snapshot is validated first.
      - C(pin) sets I(current_parameter) to I(snapshot) and marks it pinned.
      - C(unpin) removes the pin; the value of current stays as it is.
    type: str
    choices: [read, record_latest, promote, pin, unpin]
    default: read
  snapshot:
    description:
      - The cluster snapshot to record (C(record_latest)) or pin (C(pin)), by identifier (a
        snapshot of this account) or by ARN (also one shared by another account).
      - Required with C(record_latest) and C(pin); not allowed with the other operations.
    type: str
  latest_parameter:
    description:
      - SSM parameter path of the C(latest) pointer.
    type: str
    default: /dbops/acceptance/snapshot/latest
  current_parameter:
    description:
      - SSM parameter path of the C(current) pointer; must differ from I(latest_parameter).
    type: str
    default: /dbops/acceptance/snapshot/current
  engine:
    description:
      - The engine every snapshot written must be of; a snapshot of another engine is refused.
    type: str
    default: aurora-postgresql
  history_size:
    description:
      - How many of the newest versions of each parameter to return in RV(history) (0 to 100).
    type: int
    default: 10
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Record the newest shared production snapshot as latest (phase 1)
  dbops.aurora.snapshot_pointer:
    operation: record_latest
    snapshot: "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01"

- name: Promote latest to current before the restore (phase 2)
  dbops.aurora.snapshot_pointer:
    operation: promote
  register: pointer

- name: Say why nothing was promoted
  ansible.builtin.debug:
    msg: "{{ pointer.msg }}"
  when: pointer.pinned

- name: Restore a chosen snapshot on purpose, outside the schedule
  dbops.aurora.snapshot_pointer:
    operation: pin
    snapshot: app-acc-before-migration

- name: Back to the schedule
  dbops.aurora.snapshot_pointer:
    operation: unpin

- name: Report both pointers and their last 5 changes
  dbops.aurora.snapshot_pointer:
    operation: read
    history_size: 5
    latest_parameter: /dbops/acceptance/snapshot/latest
    current_parameter: /dbops/acceptance/snapshot/current
"""

RETURN = r"""
operation:
  description: The operation run.
  returned: always
  type: str
  sample: promote
parameter:
  description: The SSM parameter the operation acts on (null for C(read)).
  returned: always
  type: str
  sample: /dbops/acceptance/snapshot/current
previous:
  description: Value of RV(parameter) before the run (null when it did not exist).
  returned: always
  type: str
  sample: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-04-17
value:
  description: Value of RV(parameter) after the run (in check mode, the value it would have).
  returned: always
  type: str
  sample: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01
version:
  description: SSM version of RV(parameter) after the run (in check mode, the version now).
  returned: always
  type: int
  sample: 7
latest:
  description: Value of the latest pointer after the run (null when it does not exist).
  returned: always
  type: str
  sample: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01
current:
  description: Value of the current pointer after the run (null when it does not exist).
  returned: always
  type: str
  sample: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01
pinned:
  description: Whether current is pinned after the run.
  returned: always
  type: bool
  sample: false
snapshot:
  description: The snapshot validated for the value written (null when none was validated).
  returned: always
  type: dict
  contains:
    arn:
      description: The snapshot's ARN, the value written.
      type: str
      sample: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01
    identifier:
      description: The snapshot identifier as this account sees it (the ARN when shared).
      type: str
      sample: app-prod-2024-05-01
    status:
      description: Snapshot status.
      type: str
      sample: available
    engine:
      description: Snapshot engine.
      type: str
      sample: aurora-postgresql
    engine_version:
      description: Snapshot engine version.
      type: str
      sample: "16.4"
    db_cluster_identifier:
      description: The cluster the snapshot was taken from.
      type: str
      sample: app-prod
    snapshot_create_time:
      description: When the snapshot was taken (ISO 8601, UTC).
      type: str
      sample: "2024-05-01T01:30:00Z"
history:
  description: The newest I(history_size) versions of each pointer, newest first.
  returned: always
  type: dict
  contains:
    latest:
      description: Versions of the latest pointer.
      type: list
      elements: dict
      sample:
        - version: 3
          value: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01
          last_modified_date: "2024-05-01T02:00:04Z"
          last_modified_user: arn:aws:sts::222222222222:assumed-role/awx/job-42
          labels: []
    current:
      description: Versions of the current pointer, same fields as RV(history.latest).
      type: list
      elements: dict
      sample: []
conflict:
  description: Details of a concurrent change that made the module fail.
  returned: when another writer changed the parameter between read and write
  type: dict
  contains:
    parameter:
      description: The parameter changed concurrently.
      type: str
      sample: /dbops/acceptance/snapshot/current
    expected_version:
      description: The version this run should have written.
      type: int
      sample: 5
    found_version:
      description: The version this run's write became.
      type: int
      sample: 6
    their_value:
      description: The value written by the other writer.
      type: str
      sample: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-05-01
    restored:
      description: Whether their value was put back over ours.
      type: bool
      sample: true
msg:
  description: What the run did, or why it did nothing.
  returned: always
  type: str
  sample: "current is pinned to app-acc-before-migration: latest not promoted (unpin first)"
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbops.aurora.plugins.module_utils import ssm
from ansible_collections.dbops.aurora.plugins.module_utils.rds import describe_cluster_snapshot
from ansible_collections.dbops.aurora.plugins.module_utils.rds import retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.validation import check_inputs
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    snapshot_reference_problem,
)
from ansible_collections.dbops.aurora.plugins.module_utils.validation import ssm_path_problem

PINNED_TAG = "dbops:pinned"
PINNED_AT_TAG = "dbops:pinned-at"
WRITES = ("record_latest", "pin")


class Pointers:
    """Both pointers as read at the start of the run (values, versions, pin)."""

    def __init__(self, client, latest_name, current_name):
        self.names = {"latest": latest_name, "current": current_name}
        self.params = {key: ssm.get_parameter(client, name) for key, name in self.names.items()}
        self.pinned = bool(self.params["current"]) and ssm.parameter_tags(
            client, current_name).get(PINNED_TAG) == "true"

    def value(self, key):
        return (self.params[key] or {}).get("Value")

    def version(self, key):
        return (self.params[key] or {}).get("Version")


# --- validation ------------------------------------------------------------------------

def check_arguments(module):
    params = module.params
    check_inputs(module, {
        "latest_parameter": (ssm_path_problem, params["latest_parameter"]),
        "current_parameter": (ssm_path_problem, params["current_parameter"]),
        "snapshot": (snapshot_reference_problem, params["snapshot"]),
    })
    if params["latest_parameter"] == params["current_parameter"]:
        module.fail_json(msg="Invalid input: latest_parameter and current_parameter must be "
                             "two different parameters, both are %s" % params["latest_parameter"])
    if params["snapshot"] is not None and params["operation"] not in WRITES:
        module.fail_json(msg="Invalid input: snapshot is only used with operation record_latest "
                             "or pin, not %s" % params["operation"])
    if not 0 <= params["history_size"] <= 100:
        module.fail_json(msg="Invalid input: history_size must be between 0 and 100 "
                             "(SSM keeps at most 100 versions), got %d" % params["history_size"])


def validated_snapshot(module, client, reference, field):
    """The snapshot behind ``reference`` if it may be written, else fail naming ``field``."""
    snapshot = describe_cluster_snapshot(client, reference)
    if snapshot is None:
        module.fail_json(msg="Invalid input: %s %r does not exist or is not visible to this "
                             "account (a snapshot of this account, or one shared with it and "
                             "named by ARN)" % (field, reference))
    if snapshot["Status"] != "available":
        module.fail_json(msg="Invalid input: %s %r is %s, not available"
                             % (field, reference, snapshot["Status"]))
    engine = module.params["engine"]
    if snapshot.get("Engine") != engine:
        module.fail_json(msg="Invalid input: %s %r is a %s snapshot, not %s"
                             % (field, reference, snapshot.get("Engine"), engine))
    return snapshot


def same_snapshot(value, snapshot):
    """True when the stored ``value`` names ``snapshot`` (by ARN or by identifier)."""
    return bool(value) and value.lower() in (snapshot["DBClusterSnapshotArn"].lower(),
                                             snapshot["DBClusterSnapshotIdentifier"].lower())


def snapshot_summary(snapshot):
    if snapshot is None:
        return None
    return {"arn": snapshot["DBClusterSnapshotArn"],
            "identifier": snapshot["DBClusterSnapshotIdentifier"],
            "status": snapshot["Status"], "engine": snapshot.get("Engine"),
            "engine_version": snapshot.get("EngineVersion"),
            "db_cluster_identifier": snapshot.get("DBClusterIdentifier"),
            "snapshot_create_time": ssm.iso(snapshot.get("SnapshotCreateTime"))}


# --- planning: what each operation would change ----------------------------------------

class Plan:
    """The change an operation wants: a value for one pointer and/or the pin tag."""

    def __init__(self, key, value=None, pin=None, snapshot=None, msg=""):
        self.key = key            # "latest" or "current" (None for read)
        self.value = value        # new value to write, None to leave the value alone
        self.pin = pin            # True: set the pin tag, False: remove it, None: leave it
        self.snapshot = snapshot
        self.msg = msg

    @property
    def changes(self):
        return self.value is not None or self.pin is not None


def plan_record_latest(module, client, pointers):
    snapshot = validated_snapshot(module, client, module.params["snapshot"], "snapshot")
    if same_snapshot(pointers.value("latest"), snapshot):
        return Plan("latest", snapshot=snapshot, msg="latest already records this snapshot")
    return Plan("latest", value=snapshot["DBClusterSnapshotArn"], snapshot=snapshot,
                msg="recorded as latest")


def plan_promote(module, client, pointers):
    latest = pointers.value("latest")
    if pointers.pinned:
        return Plan("current", msg="current is pinned to %s: latest not promoted (unpin first)"
                    % pointers.value("current"))
    if latest is None:
        module.fail_json(msg="latest_parameter %s does not exist: record a snapshot as latest "
                             "first" % pointers.names["latest"])
    problem = snapshot_reference_problem(latest)
    if problem:
        module.fail_json(msg="Invalid input: the value of latest_parameter %s, %r, %s"
                             % (pointers.names["latest"], latest, problem))
    snapshot = validated_snapshot(module, client, latest,
                                  "latest_parameter %s value" % pointers.names["latest"])
    if same_snapshot(pointers.value("current"), snapshot):
        return Plan("current", snapshot=snapshot, msg="current already holds latest")
    return Plan("current", value=snapshot["DBClusterSnapshotArn"], snapshot=snapshot,
                msg="promoted latest to current")


def plan_pin(module, client, pointers):
    snapshot = validated_snapshot(module, client, module.params["snapshot"], "snapshot")
    value = None if same_snapshot(pointers.value("current"), snapshot) \
        else snapshot["DBClusterSnapshotArn"]
    pin = None if pointers.pinned else True
    msg = "current pinned to this snapshot" if value or pin else \
        "current is already pinned to this snapshot"
    return Plan("current", value=value, pin=pin, snapshot=snapshot, msg=msg)


def plan_unpin(module, client, pointers):  # pylint: disable=unused-argument
    if not pointers.pinned:
        return Plan("current", msg="current is not pinned")
    return Plan("current", pin=False, msg="current unpinned; the next promote moves it")


def plan_read(module, client, pointers):  # pylint: disable=unused-argument
    return Plan(None, msg="read only")


PLANNERS = {"record_latest": plan_record_latest, "promote": plan_promote, "pin": plan_pin,
            "unpin": plan_unpin, "read": plan_read}


# --- applying ----------------------------------------------------------------------------

def put_pointer(client, name, value, read_version, tags=None):
    """Compare-and-swap write of one pointer; kept apart so tests can race it."""
    return ssm.write_parameter(client, name, value, read_version, tags=tags)


def pin_tags():
    return {PINNED_TAG: "true", PINNED_AT_TAG: ssm.iso(ssm.utcnow())}


def apply_plan(client, pointers, plan):
    """Make the planned change; raises ssm.ConcurrentChange after undoing its own tag."""
    name = pointers.names[plan.key]
    exists = pointers.params[plan.key] is not None
    if plan.pin is False:
        ssm.remove_tags(client, name, [PINNED_TAG, PINNED_AT_TAG])
        return
    # The pin goes on before the value so a promote racing us sees it, or collides with us.
    tagged_now = plan.pin is True and exists
    if tagged_now:
        ssm.add_tags(client, name, pin_tags())
    if plan.value is None:
        return
    create_tags = pin_tags() if plan.pin is True and not exists else None
    try:
        put_pointer(client, name, plan.value, pointers.version(plan.key), tags=create_tags)
    except ssm.ConcurrentChange:
        if tagged_now:
            ssm.remove_tags(client, name, [PINNED_TAG, PINNED_AT_TAG])
        raise


def outcome(module, client, pointers, plan):
    """The values and history the run leaves behind (predicted in check mode)."""
    if module.check_mode or not plan.changes:
        values = {key: pointers.value(key) for key in ("latest", "current")}
        if plan.value is not None:
            values[plan.key] = plan.value
        pinned = pointers.pinned if plan.pin is None else plan.pin
        version = pointers.version(plan.key) if plan.key else None
        return values, pinned, version
    after = Pointers(client, pointers.names["latest"], pointers.names["current"])
    values = {key: after.value(key) for key in ("latest", "current")}
    return values, after.pinned, after.version(plan.key)


def main():
    argument_spec = dict(
        operation=dict(type="str", default="read",
                       choices=["read", "record_latest", "promote", "pin", "unpin"]),
        snapshot=dict(type="str"),
        latest_parameter=dict(type="str", default="/dbops/acceptance/snapshot/latest"),
        current_parameter=dict(type="str", default="/dbops/acceptance/snapshot/current"),
        engine=dict(type="str", default="aurora-postgresql"),
        history_size=dict(type="int", default=10),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("operation", "record_latest", ["snapshot"]),
                     ("operation", "pin", ["snapshot"])],
        supports_check_mode=True,
    )
    check_arguments(module)
    params = module.params
    ssm_client = retrying_client(module, "ssm")
    rds_client = retrying_client(module, "rds")

    try:
        pointers = Pointers(ssm_client, params["latest_parameter"], params["current_parameter"])
        plan = PLANNERS[params["operation"]](module, rds_client, pointers)
        if plan.changes and not module.check_mode:
            apply_plan(ssm_client, pointers, plan)
        values, pinned, version = outcome(module, ssm_client, pointers, plan)
        history = {key: ssm.history_entries(ssm.parameter_history(ssm_client, name),
                                            params["history_size"])
                   for key, name in pointers.names.items()}
    except ssm.ConcurrentChange as conflict:
        module.fail_json(msg=conflict.describe(), conflict=conflict.as_dict())
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="SSM or RDS call failed")

    before = {"latest": pointers.value("latest"), "current": pointers.value("current"),
              "pinned": pointers.pinned}
    after = dict(values, pinned=pinned)
    result = dict(
        changed=plan.changes,
        operation=params["operation"],
        parameter=pointers.names.get(plan.key),
        previous=pointers.value(plan.key) if plan.key else None,
        value=values.get(plan.key) if plan.key else None,
        version=version,
        latest=values["latest"],
        current=values["current"],
        pinned=pinned,
        snapshot=snapshot_summary(plan.snapshot),
        history=history,
        msg=("check mode, nothing written: " + plan.msg if module.check_mode and plan.changes
             else plan.msg),
    )
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
