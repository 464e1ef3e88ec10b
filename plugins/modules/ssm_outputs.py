#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ssm_outputs
version_added: 0.2.0
short_description: Publish several String parameters in SSM Parameter Store in one run
description:
  - Writes each of I(parameters) (full name to value) as a C(String) parameter, only where the
    value differs, keeping the description and tags a parameter already has.
  - One module run for all of them, each call retried on throttling and 5xx. Unlike a loop of
    M(community.aws.ssm_parameter) it reads an absent parameter as absent even when the read
    was throttled first, so a retried write never fails with C(ParameterAlreadyExists).
  - In check mode nothing is written; the result lists what would change.
author:
  - dbops.aurora contributors (@dbops)
options:
  parameters:
    description:
      - Full parameter name (a path such as C(/app/acceptance/cluster/endpoint)) to value.
        Values are written as strings and must not be empty.
    type: dict
    required: true
extends_documentation_fragment:
  - dbops.aurora.fence
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Publish where the cluster now serving is
  dbops.aurora.ssm_outputs:
    parameters:
      /app/acceptance/cluster/endpoint: "{{ cluster.endpoint }}"
      /app/acceptance/cluster/port: "{{ cluster.port }}"
"""

RETURN = r"""
changed_parameters:
  description: The names written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/app/acceptance/cluster/port"]
unchanged_parameters:
  description: The names that already held their value.
  returned: always
  type: list
  elements: str
  sample: ["/app/acceptance/cluster/endpoint"]
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.dbops.aurora.plugins.module_utils import ssm
from ansible_collections.dbops.aurora.plugins.module_utils._lock import FENCE_OPTION, Fence
from ansible_collections.dbops.aurora.plugins.module_utils.rds import retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.validation import check_inputs
from ansible_collections.dbops.aurora.plugins.module_utils.validation import ssm_path_problem


def value_problem(value):
    return "must not be empty (SSM stores no empty value)" if not str(value) else None


def main():
    module = AnsibleAWSModule(argument_spec=dict(parameters=dict(type="dict", required=True),
                                                 lock=FENCE_OPTION),
                              supports_check_mode=True)
    wanted = {name: "" if value is None else str(value)
              for name, value in module.params["parameters"].items()}
    check_inputs(module, {"parameters (names)": (ssm_path_problem, sorted(wanted)),
                          "parameters (values)": (value_problem, list(wanted.values()))})
    client = retrying_client(module, "ssm")
    fence = Fence(module)
    changed, unchanged = [], []
    try:
        for name in sorted(wanted):
            current = ssm.get_parameter(client, name)
            if current is not None and current.get("Value") == wanted[name]:
                unchanged.append(name)
                continue
            changed.append(name)
            if module.check_mode:
                continue
            fence.check()
            client.put_parameter(Name=name, Value=wanted[name], Type="String", Overwrite=True,
                                 aws_retry=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="SSM call failed while publishing outputs",
                             changed_parameters=changed)
    module.exit_json(changed=bool(changed), changed_parameters=changed,
                     unchanged_parameters=unchanged)


if __name__ == "__main__":
    main()
