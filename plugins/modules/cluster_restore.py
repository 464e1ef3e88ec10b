#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_restore
short_description: Restore a new Aurora cluster from a snapshot, create its instances, reset its password
version_added: 0.1.0
description:
  - Restores a B(new) Aurora cluster from a cluster snapshot (by name, or by ARN, also one
    shared by another account) with the target environment's settings, creates its instances
    (the restore API creates none) and resets its master password.
  - "Works in stages, each only when the previous one is done: C(restoring) (the cluster is
    restored and becomes C(available)), C(creating_instances) (the missing instances
    C(<cluster>-1) .. C(<cluster>-N) are created and become C(available)),
    C(resetting_password) (the master password is changed and the cluster is tagged
    C(dbops:credentials=reset); the maintenance window and the Data API, which the restore
    API does not take, are set and the cluster is tagged C(dbops:settings=applied)),
    C(complete)."
  - A restored cluster keeps the master password of the snapshot's source cluster (for a
    production snapshot, production's password). Setting O(master_user_password) is what makes
    that password stop working.
  - Idempotent and resumable. With O(wait=false) each call does what can be done now and
    returns RV(stage) and RV(complete), so a task can call it in an C(until) loop and show
    progress. With O(wait=true) it polls every O(poll_interval) seconds until complete.
  - With O(source_cluster) instead of O(snapshot) it clones a cluster copy-on-write at its
    latest restorable time (C(RestoreDBClusterToPointInTime), restore type C(copy-on-write)),
    also a cluster another account shares with this one through AWS RAM, named by ARN. That
    API takes neither the backup retention nor the backup window; they are set with the
    maintenance window in the last stage. M(dbops.aurora.clone_lineage) checks AWS's limits on
    clones before.
  - An existing cluster is only continued when its C(dbops:source-snapshot) tag names
    O(snapshot) (compared in lower case; a name and the ARN of the same snapshot are
    equivalent), or its C(dbops:source-cluster) tag names O(source_cluster). Otherwise, or when it is tagged C(environment=production), the module fails
    and touches nothing.
  - Never deletes anything; instances of the cluster beyond O(instance_count) are reported in
    RV(extra_instances) and left alone. Settings of an existing cluster are not changed.
  - Every input, and the snapshot (visible, C(available), of O(engine) and
    O(engine_version)), is checked before any change.
author:
  - dbops.aurora contributors (@dbops)
options:
  db_cluster_identifier:
    description:
      - Identifier of the new cluster, for example C(<canonical>-<refresh id>).
      - 1 to 63 letters, digits or hyphens, starting with a letter, no two consecutive hyphens,
        not ending with a hyphen. The instance names C(<cluster>-<n>) must follow the same rules.
    type: str
    required: true
  snapshot:
    description:
      - The cluster snapshot to restore, by name (this account) or by ARN (this account, or a
        snapshot shared with it by another account).
      - Exactly one of O(snapshot) and O(source_cluster) is required.
    type: str
  source_cluster:
    description:
      - The cluster to clone, by identifier (this account) or by ARN (this account, or a
        cluster shared with it through AWS RAM).
    type: str
  engine:
    description:
      - Engine of the snapshot and of the restored cluster.
    type: str
    choices: [aurora-postgresql, aurora-mysql]
    default: aurora-postgresql
  engine_version:
    description:
      - When set, the snapshot's engine version must be this version, or start with it followed
        by a dot (V(16) accepts C(16.4)); the module fails before any change otherwise.
      - The cluster is restored with the snapshot's engine version.
    type: str
  db_subnet_group_name:
    description:
      - DB subnet group of the restored cluster and its instances.
    type: str
  vpc_security_group_ids:
    description:
      - VPC security groups of the restored cluster.
    type: list
    elements: str
  db_cluster_parameter_group_name:
    description:
      - Cluster parameter group of the restored cluster.
    type: str
  kms_key_id:
    description:
      - KMS key (ID, ARN or alias) of this account to encrypt the restored cluster with.
      - Needed to restore an encrypted snapshot shared by another account.
    type: str
  backup_retention_period:
    description:
      - Days of automated backups of the restored cluster (1 to 35).
    type: int
    default: 1
  deletion_protection:
    description:
      - Deletion protection of the restored cluster.
    type: bool
    default: false
  preferred_backup_window:
    description:
      - Daily backup window (UTC, V(hh24:mi-hh24:mi)) of the restored cluster; AWS picks one
        when not set.
    type: str
  preferred_maintenance_window:
    description:
      - Weekly maintenance window (UTC, V(ddd:hh24:mi-ddd:hh24:mi)) of the restored cluster,
        set once it is C(available) (the restore API does not take it).
    type: str
  enable_cloudwatch_logs_exports:
    description:
      - Log types the restored cluster exports to CloudWatch Logs, for example V(postgresql).
    type: list
    elements: str
    default: []
  enable_http_endpoint:
    description:
      - Enable the Data API of the restored cluster once it is C(available) (the restore API
        does not take it).
    type: bool
    default: false
  copy_tags_to_snapshot:
    description:
      - Whether snapshots of the restored cluster get its tags.
    type: bool
    default: true
  serverless_v2_scaling:
    description:
      - Aurora Serverless v2 capacity of the restored cluster, in ACUs.
      - Required when O(instance_class=db.serverless).
    type: dict
    suboptions:
      min_capacity:
        description:
          - Minimum ACUs, 0 to 256 in steps of 0.5. V(0) lets the cluster pause.
        type: float
        required: true
      max_capacity:
        description:
          - Maximum ACUs, 1 to 256 in steps of 0.5, at least O(serverless_v2_scaling.min_capacity).
        type: float
        required: true
      seconds_until_auto_pause:
        description:
          - Idle seconds before a cluster with O(serverless_v2_scaling.min_capacity=0) pauses,
            300 to 86400.
        type: int
  instance_class:
    description:
      - Class of the instances created, for example V(db.serverless) or V(db.r6g.large).
    type: str
    default: db.serverless
  instance_count:
    description:
      - How many instances the cluster needs, 1 to 15. They are named
        C(<instance_identifier_prefix>-1) to C(<instance_identifier_prefix>-<instance_count>);
        the first one created is the writer.
    type: int
    default: 1
  instance_identifier_prefix:
    description:
      - Prefix of the instance names. Default O(db_cluster_identifier).
      - Instances keep their names when their cluster is renamed, so a cluster restored again
        under a name used before (a snapshot restored a second time) needs another prefix.
      - Before it creates the first instance, the module records the prefix on the cluster (tag
        C(dbops:instance-prefix)). For a cluster that records one, the recorded prefix wins
        over this option, so a run resumed after a crash finds the instances it created,
        whatever prefix it was given.
    type: str
  master_user_password:
    description:
      - New master password, set once all instances are C(available). The cluster is then
        tagged C(dbops:credentials=reset) and the password is not set again by later runs.
      - 8 to 128 printable ASCII characters, without C(/), C("), C(@) or spaces.
      - When neither this nor O(master_user_secret_arn) is set, the restored cluster keeps the
        password of the snapshot's source cluster.
      - Prefer O(master_user_secret_arn), so the password never travels as a module argument
        (Ansible writes module arguments to a temporary file on the target, which a killed run
        leaves behind).
    type: str
  master_user_secret_arn:
    description:
      - ARN of a Secrets Manager secret whose JSON value holds the new master password under
        C(password). The module reads it itself, only when the password is about to be set.
      - Mutually exclusive with O(master_user_password).
    type: str
  tags:
    description:
      - Tags of the restored cluster and of its instances, applied when they are created.
        Tags of an existing cluster are not changed.
      - The module adds C(dbops:source-snapshot) (O(snapshot) as given) or
        C(dbops:source-cluster) (O(source_cluster) as given), which is its record of
        where the cluster came from, and C(dbops:instance-prefix); these keys,
        C(dbops:credentials) and C(dbops:settings) cannot be set here.
    type: dict
    aliases: [resource_tags]
  wait:
    description:
      - Wait until every stage is done (RV(complete)). With V(false) the module does what can be
        done now and returns.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true) before failing.
    type: int
    default: 3600
  return_after:
    description:
      - With O(wait=false), keep polling for up to this many seconds and return, without
        failing, once complete or once they pass. A task calling the module in an C(until)
        loop then prints a line of progress every O(return_after) seconds instead of at every
        poll, and runs the module a few times instead of once per poll.
      - V(0) looks once and returns.
    type: int
    default: 0
  poll_interval:
    description:
      - Seconds between two polls while waiting.
    type: float
    default: 10
extends_documentation_fragment:
  - dbops.aurora.fence
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Check mode reports in RV(actions) what would be done and changes nothing; it never waits.
  - The master password is reset once per cluster; to change it again later use
    M(amazon.aws.rds_cluster) or the secret's rotation.
  - "IAM actions: rds:DescribeDBClusters, rds:DescribeDBClusterSnapshots, rds:DescribeDBInstances,
    rds:RestoreDBClusterFromSnapshot, rds:CreateDBInstance, rds:ModifyDBCluster,
    rds:AddTagsToResource, and kms:CreateGrant, kms:DescribeKey on O(kms_key_id) (and on the
    snapshot's key, granted by its owner, for a snapshot shared by another account)."
"""

EXAMPLES = r"""
- name: Restore a shared production snapshot into acceptance, waiting until it is done
  dbops.aurora.cluster_restore:
    db_cluster_identifier: app-acceptance-r20240601
    snapshot: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-06-01
    engine_version: "16"
    db_subnet_group_name: app-acceptance
    vpc_security_group_ids: [sg-0123456789abcdef0]
    db_cluster_parameter_group_name: app-acceptance-pg16
    kms_key_id: alias/dbops-acceptance
    serverless_v2_scaling:
      min_capacity: 0.5
      max_capacity: 4
    master_user_password: "{{ acceptance_master_password }}"
    tags:
      environment: acceptance
      dbops:refresh-id: r20240601
    wait_timeout: 5400
    poll_interval: 30

- name: The same, one stage at a time, showing progress
  dbops.aurora.cluster_restore:
    db_cluster_identifier: app-acceptance-r20240601
    snapshot: app-acc-copy-20240601
    serverless_v2_scaling: {min_capacity: 0, max_capacity: 4, seconds_until_auto_pause: 900}
    instance_count: 2
    master_user_password: "{{ acceptance_master_password }}"
    wait: false
    # A line of progress every five minutes, polling every 30 seconds in between.
    return_after: 300
    poll_interval: 30
  register: restore
  until: restore.complete
  retries: 18
  delay: 1
"""

RETURN = r"""
complete:
  description: Whether the cluster and its instances are C(available) and the password reset,
    when asked for, is done.
  returned: always
  type: bool
  sample: true
stage:
  description:
    - The stage the restore is in after this call. One of C(restoring), C(creating_instances),
      C(resetting_password), C(complete).
    - In check mode, the stage as found.
  returned: always
  type: str
  sample: creating_instances
cluster:
  description:
    - The cluster as RDS describes it, with snake_case keys and its tags as a dict (C(tags)).
    - Null in check mode when the cluster does not exist yet.
  returned: always
  type: dict
  sample:
    db_cluster_identifier: app-acceptance-r20240601
    status: available
    engine: aurora-postgresql
    engine_version: "16.4"
    endpoint: app-acceptance-r20240601.cluster-abc.eu-west-1.rds.amazonaws.com
    port: 5432
    db_subnet_group: app-acceptance
    serverless_v2_scaling_configuration: {min_capacity: 0.5, max_capacity: 4.0}
    tags:
      dbops:source-snapshot: arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-2024-06-01
      dbops:credentials: reset
instances:
  description: The cluster's instances, ours and any others, sorted by identifier.
  returned: always
  type: list
  elements: dict
  contains:
    db_instance_identifier:
      description: The instance identifier.
      type: str
    db_instance_class:
      description: The instance class.
      type: str
    status:
      description: The instance status.
      type: str
  sample: [{"db_instance_identifier": "app-acceptance-r20240601-1", "db_instance_class": "db.serverless",
            "status": "available"}]
extra_instances:
  description: Instances of the cluster beyond O(instance_count), left alone.
  returned: always
  type: list
  elements: str
  sample: []
actions:
  description: What this call did (or, in check mode, would do), in order.
  returned: always
  type: list
  elements: str
  sample: ["restore cluster app-acceptance-r20240601 from snapshot app-prod-2024-06-01",
           "create instance app-acceptance-r20240601-1 (db.serverless)", "reset master password"]
password_reset:
  description: Whether this call reset the master password.
  returned: always
  type: bool
  sample: true
waiting_for:
  description: What the restore waits for next (empty when complete).
  returned: always
  type: str
  sample: "cluster app-acceptance-r20240601 to become available (creating)"
waited_seconds:
  description: Seconds this call spent polling.
  returned: always
  type: float
  sample: 612.4
polls:
  description: How many times this call looked at the cluster and its instances.
  returned: always
  type: int
  sample: 21
"""

import json
import re

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
)

from ansible_collections.dbops.aurora.plugins.module_utils.conventions import INSTANCE_PREFIX_TAG
from ansible_collections.dbops.aurora.plugins.module_utils.conventions import SOURCE_CLUSTER_TAG
from ansible_collections.dbops.aurora.plugins.module_utils.conventions import SOURCE_SNAPSHOT_TAG, is_production
from ansible_collections.dbops.aurora.plugins.module_utils._lock import FENCE_OPTION, Fence
from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import (
    available_snapshot,
    references,
)
from ansible_collections.dbops.aurora.plugins.module_utils.rds import (
    describe_all,
    describe_cluster,
    describe_cluster_snapshot,
    described,
    retrying_client,
    tags_of,
    wait_until,
)
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    check_inputs,
    cluster_reference_problem,
    rds_identifier_problem,
    snapshot_reference_problem,
)

CREDENTIALS_TAG = "dbops:credentials"
CREDENTIALS_RESET = "reset"
# The settings the restore API does not take (maintenance window, Data API), applied once.
SETTINGS_TAG = "dbops:settings"
SETTINGS_APPLIED = "applied"
RESERVED_TAGS = (SOURCE_SNAPSHOT_TAG, INSTANCE_PREFIX_TAG, CREDENTIALS_TAG, SETTINGS_TAG)
SECRET_ARN_PREFIX = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
MAX_INSTANCES = 15
# States a cluster or instance does not leave by itself: waiting would only time out.
STUCK = ("failed", "deleting", "incompatible-restore", "incompatible-parameters",
         "incompatible-network", "inaccessible-encryption-credentials",
         "inaccessible-encryption-credentials-recoverable", "stopped", "stopping")
PASSWORD_FORBIDDEN = '/"@ '
# A pass that acts observes again at once; this bounds the passes of one poll.
MAX_PASSES = 4


class Restore:
    """What one module run found and did."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.identifier = self.params["db_cluster_identifier"].lower()
        self.rds = retrying_client(module, "rds")
        self.actions = []
        self.password_reset = False
        self.cluster = None
        self.instances = []
        self.stage = "restoring"
        self.waiting_for = ""
        self.known_references = None  # the ways the snapshot can be named, once looked up
        # A clone's record is the source cluster; a restore's, the snapshot.
        self.cloning = bool(self.params["source_cluster"])
        self.source = self.params["source_cluster"] or self.params["snapshot"]
        self.source_tag = SOURCE_CLUSTER_TAG if self.cloning else SOURCE_SNAPSHOT_TAG
        self.fence = Fence(module)

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, actions=self.actions, stage=self.stage, **extra)

    def act(self, description, call, **params):
        """Record an action; perform it unless in check mode."""
        self.actions.append(description)
        if self.module.check_mode:
            return None
        try:
            return call(aws_retry=True, **params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            return self.module.fail_json_aws(error, msg="Failed to " + description,
                                             actions=self.actions, stage=self.stage)

    def instance_prefix(self):
        """The prefix the cluster records (it names the instances a run already created), or
        the one asked for."""
        recorded = tags_of(self.cluster).get(INSTANCE_PREFIX_TAG)
        return (recorded or self.params["instance_identifier_prefix"] or self.identifier).lower()

    def instance_names(self):
        prefix = self.instance_prefix()
        return ["%s-%d" % (prefix, n)
                for n in range(1, self.params["instance_count"] + 1)]


# --- input checks: all before any AWS call --------------------------------------------

def scaling_problems(scaling):
    if not scaling:
        return []
    problems = []
    low, high = scaling["min_capacity"], scaling["max_capacity"]
    for name, value, floor in (("min_capacity", low, 0.0), ("max_capacity", high, 1.0)):
        if (value * 2) != int(value * 2):
            problems.append("serverless_v2_scaling.%s %s must be a multiple of 0.5 ACU"
                            % (name, value))
        if not floor <= value <= 256:
            problems.append("serverless_v2_scaling.%s %s must be between %s and 256 ACUs"
                            % (name, value, floor))
    if low > high:
        problems.append("serverless_v2_scaling.min_capacity %s must not be more than "
                        "max_capacity %s" % (low, high))
    pause = scaling.get("seconds_until_auto_pause")
    if pause is not None and not 300 <= pause <= 86400:
        problems.append("serverless_v2_scaling.seconds_until_auto_pause %s must be between "
                        "300 and 86400" % pause)
    return problems


def password_problem(password):
    if password is None:
        return None
    if not 8 <= len(password) <= 128:
        return "master_user_password must be 8 to 128 characters long"
    if any(char in PASSWORD_FORBIDDEN or not 32 < ord(char) < 127 for char in password):
        return ("master_user_password must be printable ASCII without '/', '\"', '@' or "
                "spaces")
    return None


def check_arguments(module):
    params = module.params
    checks = {"db_cluster_identifier": (rds_identifier_problem, params["db_cluster_identifier"])}
    if params["snapshot"] is not None:
        checks["snapshot"] = (snapshot_reference_problem, params["snapshot"])
    else:
        checks["source_cluster"] = (cluster_reference_problem, params["source_cluster"])
    check_inputs(module, checks)
    problems = []
    count = params["instance_count"]
    if not 1 <= count <= MAX_INSTANCES:
        problems.append("instance_count %s must be between 1 and %d" % (count, MAX_INSTANCES))
    else:
        field = "instance_identifier_prefix" if params["instance_identifier_prefix"] \
            else "db_cluster_identifier"
        last = "%s-%d" % (params[field], count)
        problem = rds_identifier_problem(last)
        if problem:
            problems.append("%s %r gives instance name %r, which %s; use a shorter %s"
                            % (field, params[field], last, problem, field))
    problems.extend(scaling_problems(params["serverless_v2_scaling"]))
    if params["instance_class"] == "db.serverless" and not params["serverless_v2_scaling"]:
        problems.append("serverless_v2_scaling is required with instance_class db.serverless")
    if not 1 <= params["backup_retention_period"] <= 35:
        problems.append("backup_retention_period %s must be between 1 and 35 days"
                        % params["backup_retention_period"])
    problem = password_problem(params["master_user_password"])
    if problem:
        problems.append(problem)
    secret = params["master_user_secret_arn"]
    if secret is not None and not SECRET_ARN_PREFIX.match(secret):
        problems.append("master_user_secret_arn %r must be a Secrets Manager secret ARN "
                        "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)" % secret)
    # A clone's record is dbops:source-cluster; a restore leaves that tag to the caller (a
    # sanitising share names its production cluster with it).
    reserved_tags = RESERVED_TAGS + ((SOURCE_CLUSTER_TAG,) if params["source_cluster"] else ())
    reserved = sorted(set(params["tags"] or {}) & set(reserved_tags))
    if reserved:
        problems.append("tags must not set %s: the module sets it" % ", ".join(reserved))
    if params["wait_timeout"] < 0:
        problems.append("wait_timeout must not be negative")
    if params["return_after"] < 0:
        problems.append("return_after must not be negative")
    if not params["poll_interval"] > 0:
        problems.append("poll_interval must be more than 0 seconds")
    if problems:
        module.fail_json(msg="Invalid input: " + "; ".join(problems),
                         invalid_fields=sorted({p.split(" ", 1)[0].split(".")[0]
                                                for p in problems}))


# --- checks against AWS, before any change ---------------------------------------------

def version_matches(wanted, actual):
    return not wanted or actual == wanted or (actual or "").startswith(wanted + ".")


def check_snapshot(run):
    """The snapshot to restore: visible, available, of the engine (and version)."""
    params = run.params
    ref = params["snapshot"]
    snapshot = available_snapshot(run.rds, "snapshot", ref, run.fail)
    if snapshot.get("Engine") != params["engine"]:
        run.fail("snapshot %r is of engine %s, not %s (engine)"
                 % (ref, snapshot.get("Engine"), params["engine"]))
    if not version_matches(params["engine_version"], snapshot.get("EngineVersion")):
        run.fail("snapshot %r is of engine version %s, not %s (engine_version)"
                 % (ref, snapshot.get("EngineVersion"), params["engine_version"]))
    shared = snapshot["DBClusterSnapshotIdentifier"].startswith("arn:")
    if shared and snapshot.get("StorageEncrypted") and not params["kms_key_id"]:
        run.fail("snapshot %r is encrypted and shared by another account: set kms_key_id to a "
                 "KMS key of this account to restore it" % ref)
    return snapshot


def same_source(run, tagged):
    """True when the tag value names the snapshot asked for (name and ARN are equivalent), or
    the cluster asked to clone."""
    ref = run.source.lower()
    if not tagged:
        return False
    if tagged.lower() == ref:
        return True
    if run.cloning:
        return False
    if run.known_references is None:
        snapshot = describe_cluster_snapshot(run.rds, run.params["snapshot"])
        run.known_references = references(snapshot) if snapshot else set()
    return tagged.lower() in run.known_references


def check_existing(run, cluster):
    """An existing cluster is continued only when this module restored it from the snapshot."""
    tags = tags_of(cluster)
    if is_production(tags):
        run.fail("cluster %s exists and is tagged environment=production: refusing to touch it"
                 % run.identifier)
    source = tags.get(run.source_tag)
    if not same_source(run, source):
        run.fail("cluster %s exists and was not restored from %s (its %s tag is %s): refusing "
                 "to touch it; choose another db_cluster_identifier"
                 % (run.identifier, run.source, run.source_tag,
                    repr(source) if source else "missing"))
    if cluster.get("Engine") != run.params["engine"]:
        run.fail("cluster %s exists and runs engine %s, not %s (engine): refusing to touch it"
                 % (run.identifier, cluster.get("Engine"), run.params["engine"]))


# --- observing and acting -----------------------------------------------------------------

def cluster_instances(run):
    if run.cluster is None:
        return []
    instances = describe_all(run.rds, "describe_db_instances", "DBInstances", Filters=[
        {"Name": "db-cluster-id", "Values": [run.cluster["DBClusterIdentifier"]]}])
    return sorted(instances, key=lambda instance: instance["DBInstanceIdentifier"].lower())


def observe(run):
    run.cluster = describe_cluster(run.rds, run.identifier)
    run.instances = cluster_instances(run)


def check_stuck(run):
    if run.cluster and run.cluster["Status"] in STUCK:
        run.fail("cluster %s is %s and will not become available by itself; fix or delete it "
                 "and rerun" % (run.identifier, run.cluster["Status"]))
    for instance in ours(run).values():
        if instance["DBInstanceStatus"] in STUCK:
            run.fail("instance %s is %s and will not become available by itself; fix or delete "
                     "it and rerun" % (instance["DBInstanceIdentifier"],
                                       instance["DBInstanceStatus"]))


def ours(run):
    """Our instances that exist, by lower-case name."""
    wanted = set(run.instance_names())
    return {instance["DBInstanceIdentifier"].lower(): instance for instance in run.instances
            if instance["DBInstanceIdentifier"].lower() in wanted}


def credentials_reset(run):
    return tags_of(run.cluster).get(CREDENTIALS_TAG) == CREDENTIALS_RESET


def wants_password(run):
    return bool(run.params["master_user_password"] or run.params["master_user_secret_arn"])


def wants_settings(run):
    return bool(run.params["preferred_maintenance_window"] or run.params["enable_http_endpoint"]
                or run.cloning)


def settings_applied(run):
    return tags_of(run.cluster).get(SETTINGS_TAG) == SETTINGS_APPLIED


def finishing_due(run):
    """The last stage: a new password and the settings the restore API does not take."""
    return ((wants_password(run) and not credentials_reset(run))
            or (wants_settings(run) and not settings_applied(run)))


def assess(run):
    """Set the stage and what it waits for from what was observed; True when complete."""
    cluster, existing = run.cluster, ours(run)
    missing = [name for name in run.instance_names() if name not in existing]
    busy = ["%s (%s)" % (name, instance["DBInstanceStatus"])
            for name, instance in sorted(existing.items())
            if instance["DBInstanceStatus"] != "available"]
    want_reset = finishing_due(run)
    if cluster is None or cluster["Status"] != "available":
        status = cluster["Status"] if cluster else "not restored yet"
        if cluster is not None and credentials_reset(run):
            run.stage = "resetting_password"
        elif existing:
            run.stage = "creating_instances"
        else:
            run.stage = "restoring"
        run.waiting_for = "cluster %s to become available (%s)" % (run.identifier, status)
    elif missing or busy:
        run.stage = "creating_instances"
        run.waiting_for = "instances to become available: %s" % ", ".join(
            busy + ["%s (not created yet)" % name for name in missing])
    elif want_reset:
        run.stage = "resetting_password"
        run.waiting_for = "the master password reset of cluster %s" % run.identifier
    else:
        run.stage = "complete"
        run.waiting_for = ""
    return run.stage == "complete"


def restore_params(run):
    params = run.params
    tags = dict(params["tags"] or {})
    tags[run.source_tag] = run.source
    request = dict(DBClusterIdentifier=run.identifier,
                   DeletionProtection=params["deletion_protection"],
                   CopyTagsToSnapshot=params["copy_tags_to_snapshot"],
                   Tags=ansible_dict_to_boto3_tag_list(tags))
    if run.cloning:
        # The point-in-time API takes no engine, backup retention nor backup window: the
        # clone gets them from its source, and finish_cluster sets them.
        request.update(SourceDBClusterIdentifier=run.source, RestoreType="copy-on-write",
                       UseLatestRestorableTime=True)
    else:
        request.update(SnapshotIdentifier=run.source, Engine=params["engine"],
                       BackupRetentionPeriod=params["backup_retention_period"],
                       PreferredBackupWindow=params["preferred_backup_window"])
    optional = {"DBSubnetGroupName": params["db_subnet_group_name"],
                "VpcSecurityGroupIds": params["vpc_security_group_ids"],
                "DBClusterParameterGroupName": params["db_cluster_parameter_group_name"],
                "KmsKeyId": params["kms_key_id"],
                "EnableCloudwatchLogsExports": params["enable_cloudwatch_logs_exports"]}
    request.update({key: value for key, value in optional.items() if value})
    request = {key: value for key, value in request.items() if value is not None}
    scaling = params["serverless_v2_scaling"]
    if scaling:
        request["ServerlessV2ScalingConfiguration"] = {
            "MinCapacity": float(scaling["min_capacity"]),
            "MaxCapacity": float(scaling["max_capacity"])}
        if scaling.get("seconds_until_auto_pause") is not None:
            request["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] = \
                scaling["seconds_until_auto_pause"]
    return request


def check_clone_source(run):
    """The cluster to clone: visible to this account, available, of the engine (and version)."""
    params = run.params
    source = describe_cluster(run.rds, run.source)
    if source is None:
        run.fail("cluster %s is not visible to this account (for another account's cluster: "
                 "share it through AWS RAM and accept the invitation)" % run.source)
    if source.get("Status") != "available":
        run.fail("cluster %s is %s, not available: it cannot be cloned now"
                 % (run.source, source.get("Status")))
    if source.get("Engine") != params["engine"]:
        run.fail("cluster %s runs engine %s, not %s (engine)"
                 % (run.source, source.get("Engine"), params["engine"]))
    if not version_matches(params["engine_version"], source.get("EngineVersion")):
        run.fail("cluster %s runs engine version %s, not %s (engine_version)"
                 % (run.source, source.get("EngineVersion"), params["engine_version"]))


def restore(run):
    if run.cloning:
        check_clone_source(run)
        run.act("clone cluster %s from %s (copy-on-write)" % (run.identifier, run.source),
                run.rds.restore_db_cluster_to_point_in_time, **restore_params(run))
        return
    check_snapshot(run)
    run.act("restore cluster %s from snapshot %s" % (run.identifier, run.source),
            run.rds.restore_db_cluster_from_snapshot, **restore_params(run))


def check_instance_names_free(run, missing):
    """An instance name taken by another cluster would fail half-way: fail before creating."""
    for name in missing:
        try:
            found = run.rds.describe_db_instances(DBInstanceIdentifier=name,
                                                  aws_retry=True)["DBInstances"]
        except is_boto3_error_code("DBInstanceNotFound"):
            continue
        for instance in found:
            owner = instance.get("DBClusterIdentifier") or "no cluster"
            run.fail("instance name %s is taken by an instance of %s, not of cluster %s; "
                     "choose another instance_identifier_prefix" % (name, owner, run.identifier))


def record_instance_prefix(run):
    """Tag the cluster with the prefix before its first instance is created, so a rerun after
    a crash names the instances alike whatever prefix it is given."""
    if tags_of(run.cluster).get(INSTANCE_PREFIX_TAG):
        return
    if run.cluster is None:  # check mode, not restored yet
        run.actions.append("record instance prefix %s" % run.instance_prefix())
        return
    run.act("record instance prefix %s" % run.instance_prefix(), run.rds.add_tags_to_resource,
            ResourceName=run.cluster["DBClusterArn"],
            Tags=ansible_dict_to_boto3_tag_list({INSTANCE_PREFIX_TAG: run.instance_prefix()}))


def create_instances(run, missing):
    check_instance_names_free(run, missing)
    record_instance_prefix(run)
    params = run.params
    tags = dict(params["tags"] or {})
    tags[run.source_tag] = run.source
    for name in missing:
        request = dict(DBInstanceIdentifier=name, DBClusterIdentifier=run.identifier,
                       Engine=params["engine"], DBInstanceClass=params["instance_class"],
                       Tags=ansible_dict_to_boto3_tag_list(tags))
        if params["db_subnet_group_name"]:
            request["DBSubnetGroupName"] = params["db_subnet_group_name"]
        run.act("create instance %s (%s)" % (name, params["instance_class"]),
                run.rds.create_db_instance, **request)


def new_password(run):
    """The password to set: given, or read from the secret only now that it is needed."""
    if run.params["master_user_password"] or run.module.check_mode:
        return run.params["master_user_password"]
    arn = run.params["master_user_secret_arn"]
    secrets = retrying_client(run.module, "secretsmanager")
    try:
        value = secrets.get_secret_value(SecretId=arn, aws_retry=True)["SecretString"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        return run.module.fail_json_aws(error, msg="Failed to read master_user_secret_arn %s"
                                        % arn, actions=run.actions, stage=run.stage)
    try:
        password = json.loads(value)["password"]
    except (ValueError, KeyError, TypeError):
        password = None
    problem = "has no JSON key password" if password is None else password_problem(password)
    if problem:
        run.fail("master_user_secret_arn %s: its value %s; nothing was changed"
                 % (arn, problem.replace("master_user_password", "the password")))
    return password


def finish_cluster(run):
    """Set the new password and the settings the restore API does not take, then tag the
    cluster so no later run does it again."""
    arn = run.cluster["DBClusterArn"] if run.cluster else None
    tags = []
    if wants_password(run) and not credentials_reset(run):
        password = new_password(run)
        run.act("reset master password", run.rds.modify_db_cluster,
                DBClusterIdentifier=run.identifier, MasterUserPassword=password,
                ApplyImmediately=True)
        tags.append({"Key": CREDENTIALS_TAG, "Value": CREDENTIALS_RESET})
        run.password_reset = not run.module.check_mode
    if wants_settings(run) and not settings_applied(run):
        window = run.params["preferred_maintenance_window"]
        if window and (run.cluster or {}).get("PreferredMaintenanceWindow") != window.lower():
            run.act("set maintenance window %s" % window, run.rds.modify_db_cluster,
                    DBClusterIdentifier=run.identifier, PreferredMaintenanceWindow=window,
                    ApplyImmediately=True)
        if run.cloning:
            apply_backup_settings(run)
        if run.params["enable_http_endpoint"] and not (run.cluster or {}).get("HttpEndpointEnabled"):
            run.act("enable the Data API", run.rds.enable_http_endpoint, ResourceArn=arn)
        tags.append({"Key": SETTINGS_TAG, "Value": SETTINGS_APPLIED})
    run.act("tag cluster %s %s" % (run.identifier, ", ".join(
        "%s=%s" % (tag["Key"], tag["Value"]) for tag in tags)),
        run.rds.add_tags_to_resource, ResourceName=arn, Tags=tags)


def apply_backup_settings(run):
    """A clone starts with its source's backup retention and window: set this environment's."""
    cluster, params = run.cluster or {}, run.params
    wanted = {"BackupRetentionPeriod": params["backup_retention_period"],
              "PreferredBackupWindow": params["preferred_backup_window"]}
    changes = {key: value for key, value in wanted.items()
               if value is not None and cluster.get(key) != value}
    if changes:
        run.act("set %s" % ", ".join("%s %s" % item for item in sorted(changes.items())),
                run.rds.modify_db_cluster, DBClusterIdentifier=run.identifier,
                ApplyImmediately=True, **changes)


def advance(run):
    """Do the next step if its precondition holds; True when something was done."""
    if run.cluster is None:
        restore(run)
        return True
    if run.cluster["Status"] != "available":
        return False
    existing = ours(run)
    missing = [name for name in run.instance_names() if name not in existing]
    if missing:
        create_instances(run, missing)
        return True
    if any(i["DBInstanceStatus"] != "available" for i in existing.values()):
        return False
    if finishing_due(run):
        finish_cluster(run)
        return True
    return False


def poll(run):
    """One look (and the steps it allows); True when complete."""
    for dummy in range(MAX_PASSES):
        run.fence.check()  # before anything changes, and a heartbeat at every poll
        observe(run)
        if run.cluster is not None:
            check_existing(run, run.cluster)
        check_stuck(run)
        if not advance(run):
            break
    return assess(run)


def plan(run):
    """Check mode: the actions the restore still needs, without making any."""
    observe(run)
    if run.cluster is None:
        restore(run)
    else:
        check_existing(run, run.cluster)
    assess(run)
    existing = ours(run)
    missing = [name for name in run.instance_names() if name not in existing]
    if missing and run.cluster is not None:
        check_instance_names_free(run, missing)
    if missing:
        record_instance_prefix(run)
    for name in missing:
        run.actions.append("create instance %s (%s)" % (name, run.params["instance_class"]))
    if finishing_due(run):
        finish_cluster(run)


# --- results ------------------------------------------------------------------------------

def instances_result(run):
    return [{"db_instance_identifier": instance["DBInstanceIdentifier"],
             "db_instance_class": instance.get("DBInstanceClass"),
             "status": instance["DBInstanceStatus"]} for instance in run.instances]


def main():
    argument_spec = dict(
        db_cluster_identifier=dict(type="str", required=True),
        snapshot=dict(type="str"),
        source_cluster=dict(type="str"),
        engine=dict(type="str", choices=["aurora-postgresql", "aurora-mysql"],
                    default="aurora-postgresql"),
        engine_version=dict(type="str"),
        db_subnet_group_name=dict(type="str"),
        vpc_security_group_ids=dict(type="list", elements="str"),
        db_cluster_parameter_group_name=dict(type="str"),
        kms_key_id=dict(type="str"),
        backup_retention_period=dict(type="int", default=1),
        deletion_protection=dict(type="bool", default=False),
        preferred_backup_window=dict(type="str"),
        preferred_maintenance_window=dict(type="str"),
        enable_cloudwatch_logs_exports=dict(type="list", elements="str", default=[]),
        enable_http_endpoint=dict(type="bool", default=False),
        copy_tags_to_snapshot=dict(type="bool", default=True),
        serverless_v2_scaling=dict(type="dict", options=dict(
            min_capacity=dict(type="float", required=True),
            max_capacity=dict(type="float", required=True),
            seconds_until_auto_pause=dict(type="int"),
        )),
        instance_class=dict(type="str", default="db.serverless"),
        instance_count=dict(type="int", default=1),
        instance_identifier_prefix=dict(type="str"),
        master_user_password=dict(type="str", no_log=True),
        master_user_secret_arn=dict(type="str", no_log=False),
        tags=dict(type="dict", aliases=["resource_tags"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        return_after=dict(type="int", default=0),
        poll_interval=dict(type="float", default=10),
        lock=FENCE_OPTION,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("master_user_password",
                                                   "master_user_secret_arn"),
                                                  ("snapshot", "source_cluster")],
                              required_one_of=[("snapshot", "source_cluster")])
    check_arguments(module)
    run = Restore(module)
    polls, waited = 1, 0.0
    try:
        if module.check_mode:
            plan(run)
            complete = False if run.actions else run.stage == "complete"
        elif module.params["wait"]:
            complete, polls, waited = wait_until(lambda: poll(run), module.params["wait_timeout"],
                                                 delay=module.params["poll_interval"])
            if not complete:
                run.fail("cluster %s: still waiting for %s after %s seconds (wait_timeout %s); "
                         "rerun to continue" % (run.identifier, run.waiting_for, waited,
                                                module.params["wait_timeout"]),
                         waited_seconds=waited, polls=polls, password_reset=run.password_reset,
                         cluster=described(run.cluster), instances=instances_result(run))
        elif module.params["return_after"] > 0:
            complete, polls, waited = wait_until(lambda: poll(run), module.params["return_after"],
                                                 delay=module.params["poll_interval"])
        else:
            complete = poll(run)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="RDS call failed while restoring cluster %s"
                             % run.identifier, actions=run.actions, stage=run.stage)
    extra = sorted(instance["DBInstanceIdentifier"] for instance in run.instances
                   if instance["DBInstanceIdentifier"].lower() not in run.instance_names())
    if extra:
        module.warn("cluster %s has instances beyond instance_count, left alone: %s"
                    % (run.identifier, ", ".join(extra)))
    module.exit_json(changed=bool(run.actions), complete=bool(complete), stage=run.stage,
                     cluster=described(run.cluster), instances=instances_result(run),
                     extra_instances=extra, actions=run.actions,
                     password_reset=run.password_reset, waiting_for=run.waiting_for,
                     waited_seconds=waited, polls=polls)


if __name__ == "__main__":
    main()
