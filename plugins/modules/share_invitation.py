#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: share_invitation
version_added: 0.2.0
short_description: Accept the AWS RAM invitations another account sent this one
description:
  - The acceptance side of sharing a cluster for cloning (M(dbops.aurora.cluster_share)). An
    account outside the sharing account's AWS Organization sees a shared cluster only once it
    accepts the share's invitation; this module accepts the pending invitations from
    O(sender_account_id), optionally only those of the share named O(name).
  - Idempotent. Fails, changing nothing, when no invitation from that account is found (the
    share names another account, or the accounts are in one organisation with sharing
    enabled, where there are no invitations; set O(required=false) then).
  - In check mode nothing is accepted.
author:
  - dbops.aurora contributors (@dbops)
options:
  sender_account_id:
    description: The account that shared (12 digits).
    type: str
    required: true
  name:
    description: Accept only the invitations of the share with this name.
    type: str
  required:
    description: Fail when no invitation from O(sender_account_id) exists at all.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - "IAM actions: ram:GetResourceShareInvitations, ram:AcceptResourceShareInvitation."
"""

EXAMPLES = r"""
- name: Accept production's share of its cluster
  dbops.aurora.share_invitation:
    sender_account_id: "111111111111"
    name: dbops-clone-app-production
"""

RETURN = r"""
accepted:
  description: The names of the shares whose invitations this run accepted.
  returned: always
  type: list
  elements: str
invitations:
  description: The invitations from O(sender_account_id) and their status after the run.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "dbops-clone-app-production", "status": "ACCEPTED",
            "resource_share_arn": "arn:aws:ram:eu-west-1:111111111111:resource-share/1a2b"}]
"""

import re

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.dbops.aurora.plugins.module_utils.rds import paginate, retrying_client


def main():
    module = AnsibleAWSModule(argument_spec=dict(
        sender_account_id=dict(type="str", required=True),
        name=dict(type="str"),
        required=dict(type="bool", default=True),
    ), supports_check_mode=True)
    params = module.params
    if not re.match(r"^\d{12}$", params["sender_account_id"]):
        module.fail_json(msg="Invalid input: sender_account_id must be a 12-digit account id",
                         invalid_fields=["sender_account_id"])
    ram = retrying_client(module, "ram")
    accepted = []
    try:
        invitations = [entry for entry in paginate(ram, "get_resource_share_invitations",
                                                   "resourceShareInvitations")
                       if entry.get("senderAccountId") == params["sender_account_id"]
                       and params["name"] in (None, entry.get("resourceShareName"))]
        for entry in invitations:
            if entry.get("status") == "PENDING":
                accepted.append(entry["resourceShareName"])
                if not module.check_mode:
                    try:
                        ram.accept_resource_share_invitation(
                            resourceShareInvitationArn=entry["resourceShareInvitationArn"], aws_retry=True)
                    except is_boto3_error_code("ResourceShareInvitationAlreadyAcceptedException"):
                        pass  # a retried call whose first attempt went through
                entry["status"] = "ACCEPTED"
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Failed to accept the invitations of account %s"
                             % params["sender_account_id"])
    result = [{"name": entry.get("resourceShareName"), "status": entry.get("status"),
               "resource_share_arn": entry.get("resourceShareArn")} for entry in invitations]
    if not invitations and params["required"]:
        module.fail_json(msg="No AWS RAM invitation from account %s%s reached this account: check "
                             "the share names it (playbooks/share_cluster.yml), or set required=false "
                             "when both accounts are in one organisation with RAM sharing enabled"
                         % (params["sender_account_id"],
                            " for share %s" % params["name"] if params["name"] else ""),
                         invitations=[])
    module.exit_json(changed=bool(accepted), accepted=accepted, invitations=result)


if __name__ == "__main__":
    main()
