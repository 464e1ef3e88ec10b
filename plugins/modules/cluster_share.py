#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_share
version_added: 0.2.0
short_description: Share an Aurora cluster with other accounts through AWS RAM, for cross-account cloning
description:
  - The production side of a clone refresh. Keeps an AWS RAM resource share named O(name)
    that shares the cluster O(db_cluster_identifier) with the accounts O(principals), so they
    can clone it (copy-on-write) into their own account.
  - Before any change it refuses, naming every reason, a cluster AWS could not clone into
    another account - one that does not exist, has no DB instance, or is encrypted with the
    AWS-managed key C(aws/rds) (it cannot be shared) - and a customer-managed key whose key
    policy does not name each account of O(principals) (they could not use it).
  - Creates the share, or adds the cluster and the accounts missing from an existing one;
    never removes an account or a resource from a share. O(state=absent) deletes the share.
  - An account outside this account's AWS Organization receives an invitation it must accept
    (M(dbops.aurora.share_invitation), run with its own credentials). RV(principals) reports
    V(ASSOCIATING) until it does, then V(ASSOCIATED).
  - In check mode nothing changes.
author:
  - dbops.aurora contributors (@dbops)
options:
  db_cluster_identifier:
    description: The cluster to share (in this account).
    type: str
    required: true
  principals:
    description: The 12-digit ids of the accounts to share it with (at most 15 clones per cluster).
    type: list
    elements: str
    default: []
  name:
    description: The resource share's name; defaults to C(dbops-clone-<cluster>).
    type: str
  allow_external_principals:
    description: Whether accounts outside this account's organisation may be named.
    type: bool
    default: true
  state:
    description: V(present) shares, V(absent) deletes the share.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - "IAM actions: rds:DescribeDBClusters, kms:DescribeKey, kms:GetKeyPolicy on the cluster's key,
    ram:GetResourceShares, ram:GetResourceShareAssociations, ram:CreateResourceShare,
    ram:TagResource (the share is created with a tag), ram:AssociateResourceShare, and
    ram:DeleteResourceShare for O(state=absent). The shipped policy production_clone.json
    (playbooks/iam_policies.yml) grants them but the last."
"""

EXAMPLES = r"""
- name: Let acceptance clone production's cluster
  dbops.aurora.cluster_share:
    db_cluster_identifier: app-production
    principals: ["222222222222"]
  register: share
"""

RETURN = r"""
cluster_arn:
  description: The shared cluster's ARN, which the other accounts clone by.
  returned: always
  type: str
  sample: arn:aws:rds:eu-west-1:111111111111:cluster:app-production
resource_share_arn:
  description: The resource share's ARN (null when there is none).
  returned: always
  type: str
principals:
  description: Each account the share names and its association status.
  returned: always
  type: list
  elements: dict
  sample: [{"account_id": "222222222222", "status": "ASSOCIATING"}]
actions:
  description: What was done (or, in check mode, would be).
  returned: always
  type: list
  elements: str
"""

import uuid

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import is_aws_managed_key
from ansible_collections.dbops.aurora.plugins.module_utils.rds import describe_cluster, paginate, retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    account_id_problem,
    check_inputs,
    rds_identifier_problem,
)

MAX_CLONE_ACCOUNTS = 15


def refusals(module, cluster):
    """Every reason the other accounts could not clone the cluster (empty when they can)."""
    params = module.params
    if cluster is None:
        return ["cluster %s does not exist in this account" % params["db_cluster_identifier"]]
    found = []
    if not cluster.get("DBClusterMembers"):
        found.append("it has no DB instance: AWS clones only a cluster with one")
    key_id = cluster.get("KmsKeyId")
    if cluster.get("StorageEncrypted") and key_id:
        kms = retrying_client(module, "kms")
        if is_aws_managed_key(kms, key_id):
            found.append("it is encrypted with the AWS-managed key %s, which cannot be shared; "
                         "only a cluster under a customer-managed key can be cloned into another "
                         "account" % key_id)
        else:
            policy = kms.get_key_policy(KeyId=key_id, PolicyName="default", aws_retry=True)["Policy"]
            missing = [account for account in params["principals"] if account not in policy]
            if missing:
                found.append("the key policy of %s does not grant %s: they could not use the "
                             "clone's key (list them in cluster_kms_share_account_ids and "
                             "provision again)" % (key_id, ", ".join(missing)))
    return found


def find_share(ram, name):
    shares = paginate(ram, "get_resource_shares", "resourceShares", resourceOwner="SELF")
    active = [share for share in shares if share.get("name") == name
              and share.get("status") not in ("DELETING", "DELETED")]
    return active[0] if active else None


def associations(ram, share_arn, kind):
    return paginate(ram, "get_resource_share_associations", "resourceShareAssociations",
                    associationType=kind, resourceShareArns=[share_arn])


def principals_result(ram, share):
    if share is None:
        return []
    return [{"account_id": entry["associatedEntity"], "status": entry["status"]}
            for entry in associations(ram, share["resourceShareArn"], "PRINCIPAL")]


def ensure_shared(module, ram, share, cluster_arn, actions):
    params = module.params
    if share is None:
        actions.append("create resource share %s for %s with %s"
                       % (params["name"], cluster_arn, ", ".join(params["principals"])))
        if module.check_mode:
            return None
        # One token for the call and its retries: a retry after a lost answer makes no second share.
        return ram.create_resource_share(
            name=params["name"], resourceArns=[cluster_arn], principals=params["principals"],
            allowExternalPrincipals=params["allow_external_principals"], clientToken=str(uuid.uuid4()),
            tags=[{"key": "managed-by", "value": "dbops.aurora"}], aws_retry=True)["resourceShare"]
    arn = share["resourceShareArn"]
    resources = {entry["associatedEntity"] for entry in associations(ram, arn, "RESOURCE")
                 if entry["status"] not in ("DISASSOCIATING", "DISASSOCIATED")}
    named = {entry["associatedEntity"] for entry in associations(ram, arn, "PRINCIPAL")
             if entry["status"] not in ("DISASSOCIATING", "DISASSOCIATED")}
    add = dict(resourceArns=[cluster_arn] if cluster_arn not in resources else [],
               principals=[account for account in params["principals"] if account not in named])
    add = {key: value for key, value in add.items() if value}
    if add:
        actions.append("add %s to resource share %s" % (
            ", ".join(add.get("resourceArns", []) + add.get("principals", [])), params["name"]))
        if not module.check_mode:
            ram.associate_resource_share(resourceShareArn=arn, clientToken=str(uuid.uuid4()),
                                         aws_retry=True, **add)
    return share


def main():
    argument_spec = dict(
        db_cluster_identifier=dict(type="str", required=True),
        principals=dict(type="list", elements="str", default=[]),
        name=dict(type="str"),
        allow_external_principals=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    params["name"] = params["name"] or "dbops-clone-%s" % params["db_cluster_identifier"]
    check_inputs(module, {
        "db_cluster_identifier": (rds_identifier_problem, params["db_cluster_identifier"]),
        "principals": (account_id_problem, params["principals"])})
    if len(params["principals"]) > MAX_CLONE_ACCOUNTS:
        module.fail_json(msg="Invalid input: principals names %d accounts; AWS allows %d "
                             "cross-account clones of a cluster" % (len(params["principals"]), MAX_CLONE_ACCOUNTS),
                         invalid_fields=["principals"])
    rds, ram = retrying_client(module, "rds"), retrying_client(module, "ram")
    actions = []
    try:
        cluster = describe_cluster(rds, params["db_cluster_identifier"])
        share = find_share(ram, params["name"])
        if params["state"] == "absent":
            if share is not None:
                actions.append("delete resource share %s" % params["name"])
                if not module.check_mode:
                    ram.delete_resource_share(resourceShareArn=share["resourceShareArn"], aws_retry=True)
            module.exit_json(changed=bool(actions), actions=actions, principals=[],
                             cluster_arn=(cluster or {}).get("DBClusterArn"), resource_share_arn=None)
        if not params["principals"]:
            module.fail_json(msg="Invalid input: principals must name at least one account to share with",
                             invalid_fields=["principals"])
        problems = refusals(module, cluster)
        if problems:
            module.fail_json(msg="Refusing to share %s for cloning: %s. Nothing was changed."
                             % (params["db_cluster_identifier"], "; ".join(problems)),
                             refusals=problems, actions=[])
        share = ensure_shared(module, ram, share, cluster["DBClusterArn"], actions)
        principals = principals_result(ram, share)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Failed to share cluster %s" % params["db_cluster_identifier"],
                             actions=actions)
    module.exit_json(changed=bool(actions), actions=actions, cluster_arn=cluster["DBClusterArn"],
                     resource_share_arn=(share or {}).get("resourceShareArn"), principals=principals)


if __name__ == "__main__":
    main()
