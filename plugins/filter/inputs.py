# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' input checks: one line per broken rule, naming the field."""

from ansible.errors import AnsibleFilterError
from ansible_collections.dbops.aurora.plugins.module_utils import validation


def input_problems(checks):
    """[field, value, rule] triples -> the problems found (empty when every input is fine)."""
    try:
        return validation.input_problems([tuple(check) for check in checks or []])
    except (ValueError, TypeError) as error:
        raise AnsibleFilterError("input_problems: %s" % error)


class FilterModule:
    def filters(self):
        return {"input_problems": input_problems}
