#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_settings_info
short_description: The settings a new Aurora cluster needs to replace the one serving now
version_added: 0.2.0
description:
  - Reads the settings of the cluster serving under O(db_cluster_identifier), so that a cluster
    restored to replace it (the acceptance refresh) gets every setting provisioning gave it -
    KMS key, subnet group, security groups, parameter group, Serverless v2 scaling and
    auto-pause, instance class and count, backup retention and window, maintenance window,
    log exports, Data API, deletion protection, copying tags to snapshots and the tags.
    Provisioning the environment again afterwards then changes nothing.
  - When no cluster has that name (a run died between the two renames of a swap), the settings
    come from the newest cluster whose name starts with one of O(fallback_prefixes), such as
    the C(<canonical>-previous-) cluster the swap had just put aside.
  - O(overrides) win over what was read. A value that is null, empty or an empty list is not
    an override. Override tags are added to the tags read; an override of
    C(serverless_v2_scaling) may give only some of its keys.
  - Tags the refresh keeps its record in (C(dbops:*)) are not settings and are left out of
    RV(settings.tags).
  - It also says which account the credentials act in (RV(account_id)), so a refresh checks
    the account, reads its target and takes its lock in two module runs, not three.
  - Read-only.
author:
  - dbops.aurora contributors (@dbops)
options:
  db_cluster_identifier:
    description:
      - The canonical cluster identifier (the name applications connect to).
    type: str
    required: true
  fallback_prefixes:
    description:
      - When no cluster is named O(db_cluster_identifier), read the newest cluster whose
        identifier starts with one of these prefixes instead.
    type: list
    elements: str
    default: []
  overrides:
    description:
      - Settings that win over the ones read, with the keys of RV(settings).
      - Null, empty strings and empty lists are ignored, so a role can pass every variable
        and set only some.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - "IAM actions: rds:DescribeDBClusters, rds:DescribeDBInstances (sts:GetCallerIdentity needs
    no permission)."
"""

EXAMPLES = r"""
- name: Read what a refresh must give the new cluster
  dbops.aurora.cluster_settings_info:
    db_cluster_identifier: app-acceptance
    fallback_prefixes: [app-acceptance-previous-]
    overrides:
      instance_count: 2
      kms_key_id: ""            # not an override: the key is read from the cluster
  register: target

- name: Restore with them
  dbops.aurora.cluster_restore:
    db_cluster_identifier: app-acceptance-r1a2b3c4d
    snapshot: app-acceptance-r1a2b3c4d
    kms_key_id: "{{ target.settings.kms_key_id }}"
    instance_class: "{{ target.settings.instance_class }}"
    instance_count: "{{ target.settings.instance_count }}"
    serverless_v2_scaling: "{{ target.settings.serverless_v2_scaling }}"
"""

RETURN = r"""
account_id:
  description: The account the module's credentials act in (STS GetCallerIdentity).
  returned: always
  type: str
  sample: "222222222222"
region:
  description: The region the module acts in (a clone refresh builds production's cluster ARN with it).
  returned: always
  type: str
  sample: eu-west-1
source:
  description: The cluster the settings were read from, or null when none was found.
  returned: always
  type: str
  sample: app-acceptance
canonical:
  description:
    - The cluster under O(db_cluster_identifier) as RDS describes it (snake_case keys, tags as
      a dict), or null when there is none.
  returned: always
  type: dict
production_tagged:
  description: True when the canonical cluster or the source is tagged C(environment=production).
  returned: always
  type: bool
  sample: false
origins:
  description: For each key of RV(settings), where its value came from.
  returned: always
  type: dict
  sample: {kms_key_id: cluster, instance_count: override, enable_http_endpoint: default}
settings:
  description: The settings, named as the options of M(dbops.aurora.cluster_restore).
  returned: always
  type: dict
  contains:
    kms_key_id:
      description: KMS key ARN of the cluster's storage (null when unknown).
      type: str
    db_subnet_group_name:
      description: DB subnet group.
      type: str
    vpc_security_group_ids:
      description: VPC security group ids.
      type: list
      elements: str
    db_cluster_parameter_group_name:
      description: Cluster parameter group.
      type: str
    serverless_v2_scaling:
      description: C(min_capacity), C(max_capacity) and C(seconds_until_auto_pause), or null.
      type: dict
    instance_class:
      description: Class of the cluster's instances.
      type: str
    instance_count:
      description: How many instances the cluster has.
      type: int
    backup_retention_period:
      description: Days of automated backups.
      type: int
    preferred_backup_window:
      description: Daily backup window (UTC), or null.
      type: str
    preferred_maintenance_window:
      description: Weekly maintenance window (UTC), or null.
      type: str
    enable_cloudwatch_logs_exports:
      description: Log types exported to CloudWatch Logs.
      type: list
      elements: str
    enable_http_endpoint:
      description: Whether the Data API is enabled.
      type: bool
    deletion_protection:
      description: Whether deletion protection is on.
      type: bool
    copy_tags_to_snapshot:
      description: Whether snapshots get the cluster's tags.
      type: bool
    tags:
      description: The cluster's tags, without the C(dbops:*) tags of the refresh.
      type: dict
  sample:
    kms_key_id: arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab
    db_subnet_group_name: app-acceptance
    vpc_security_group_ids: [sg-0123456789abcdef0]
    db_cluster_parameter_group_name: app-acceptance-params
    serverless_v2_scaling: {min_capacity: 0.0, max_capacity: 4.0, seconds_until_auto_pause: 3600}
    instance_class: db.serverless
    instance_count: 1
    backup_retention_period: 1
    preferred_backup_window: "01:37-02:07"
    preferred_maintenance_window: "wed:02:40-wed:03:10"
    enable_cloudwatch_logs_exports: [postgresql]
    enable_http_endpoint: false
    deletion_protection: false
    copy_tags_to_snapshot: true
    tags: {environment: acceptance, project: app, managed-by: dbops.aurora, stage: acceptance}
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbops.aurora.plugins.module_utils.conventions import (
    is_production,
    provisioned_tags,
)
from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import snapshot_tags
from ansible_collections.dbops.aurora.plugins.module_utils.rds import (
    describe_all,
    describe_cluster,
    described,
    retrying_client,
)
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    check_inputs,
    rds_identifier_problem,
)

# What a cluster gets when nothing serves yet and the inventory says nothing.
DEFAULTS = {
    "kms_key_id": None, "db_subnet_group_name": None, "vpc_security_group_ids": [],
    "db_cluster_parameter_group_name": None,
    "serverless_v2_scaling": {"min_capacity": 0.5, "max_capacity": 4.0,
                              "seconds_until_auto_pause": None},
    "instance_class": "db.serverless", "instance_count": 1, "backup_retention_period": 1,
    "preferred_backup_window": None, "preferred_maintenance_window": None,
    "enable_cloudwatch_logs_exports": [], "enable_http_endpoint": False,
    "deletion_protection": False, "copy_tags_to_snapshot": True, "tags": {},
}


def unset(value):
    return value is None or value == "" or value == [] or value == {}


def check_arguments(module):
    params = module.params
    check_inputs(module, {
        "db_cluster_identifier": (rds_identifier_problem, params["db_cluster_identifier"])})
    unknown = sorted(set(params["overrides"]) - set(DEFAULTS))
    if unknown:
        module.fail_json(msg="Invalid input: overrides %s: unknown setting(s); known: %s"
                         % (", ".join(unknown), ", ".join(sorted(DEFAULTS))),
                         invalid_fields=["overrides"])


def source_cluster(rds, params):
    """(canonical cluster or None, the cluster to read the settings from or None)."""
    canonical = describe_cluster(rds, params["db_cluster_identifier"])
    if canonical is not None or not params["fallback_prefixes"]:
        return canonical, canonical
    prefixes = tuple(prefix.lower() for prefix in params["fallback_prefixes"])
    fallbacks = [cluster for cluster in describe_all(rds, "describe_db_clusters", "DBClusters")
                 if cluster["DBClusterIdentifier"].lower().startswith(prefixes)]
    fallbacks.sort(key=lambda cluster: cluster.get("ClusterCreateTime") or 0, reverse=True)
    return None, (fallbacks[0] if fallbacks else None)


def cluster_settings(rds, cluster):
    """The settings of ``cluster`` (a DescribeDBClusters entry), named as cluster_restore's."""
    instances = describe_all(rds, "describe_db_instances", "DBInstances", Filters=[
        {"Name": "db-cluster-id", "Values": [cluster["DBClusterIdentifier"]]}])
    writer = next((member["DBInstanceIdentifier"] for member in cluster.get("DBClusterMembers", [])
                   if member.get("IsClusterWriter")), None)
    instances.sort(key=lambda instance: (instance["DBInstanceIdentifier"] != writer,
                                         instance["DBInstanceIdentifier"]))
    scaling = cluster.get("ServerlessV2ScalingConfiguration")
    return {
        "kms_key_id": cluster.get("KmsKeyId"),
        "db_subnet_group_name": cluster.get("DBSubnetGroup"),
        "vpc_security_group_ids": sorted(group["VpcSecurityGroupId"]
                                         for group in cluster.get("VpcSecurityGroups", [])),
        "db_cluster_parameter_group_name": cluster.get("DBClusterParameterGroup"),
        "serverless_v2_scaling": {
            "min_capacity": float(scaling["MinCapacity"]),
            "max_capacity": float(scaling["MaxCapacity"]),
            "seconds_until_auto_pause": scaling.get("SecondsUntilAutoPause"),
        } if scaling else None,
        "instance_class": instances[0]["DBInstanceClass"] if instances else None,
        "instance_count": len(instances) or None,
        "backup_retention_period": cluster.get("BackupRetentionPeriod"),
        "preferred_backup_window": cluster.get("PreferredBackupWindow"),
        "preferred_maintenance_window": cluster.get("PreferredMaintenanceWindow"),
        "enable_cloudwatch_logs_exports": sorted(cluster.get("EnabledCloudwatchLogsExports")
                                                 or []),
        "enable_http_endpoint": bool(cluster.get("HttpEndpointEnabled")),
        "deletion_protection": bool(cluster.get("DeletionProtection")),
        "copy_tags_to_snapshot": bool(cluster.get("CopyTagsToSnapshot")),
        "tags": provisioned_tags(snapshot_tags(cluster)),
    }


def merge(read, overrides):
    """(settings, origins): overrides over what was read over the defaults."""
    settings, origins = {}, {}
    for key, default in DEFAULTS.items():
        value, origin = default, "default"
        if read is not None and read.get(key) is not None:
            value, origin = read[key], "cluster"
        override = overrides.get(key)
        if key in ("tags", "serverless_v2_scaling") and isinstance(override, dict):
            # Partial: the keys given win, the others stay as read.
            given = {name: part for name, part in override.items() if not unset(part)}
            value = dict(value or default, **given)
            origin = "override" if given else origin
        elif not unset(override):
            value, origin = overrides[key], "override"
        settings[key], origins[key] = value, origin
    provisioned = settings["instance_class"] != "db.serverless"
    if provisioned and origins["serverless_v2_scaling"] != "override":
        settings["serverless_v2_scaling"] = None  # provisioned instances do not scale
    return settings, origins


def main():
    argument_spec = dict(
        db_cluster_identifier=dict(type="str", required=True),
        fallback_prefixes=dict(type="list", elements="str", default=[]),
        overrides=dict(type="dict", default={}),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    check_arguments(module)
    rds = retrying_client(module, "rds")
    try:
        account_id = retrying_client(module, "sts").get_caller_identity(aws_retry=True)["Account"]
        canonical, source = source_cluster(rds, module.params)
        read = cluster_settings(rds, source) if source is not None else None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Failed to read the settings of %s"
                             % module.params["db_cluster_identifier"])
    settings, origins = merge(read, module.params["overrides"])
    module.exit_json(
        changed=False, account_id=account_id, region=module.region, settings=settings, origins=origins,
        canonical=described(canonical),
        source=source["DBClusterIdentifier"] if source else None,
        production_tagged=any(is_production(snapshot_tags(cluster))
                              for cluster in (canonical, source) if cluster))


if __name__ == "__main__":
    main()
