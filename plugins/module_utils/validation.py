# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input rules shared by the modules: checked before any AWS call, so bad input changes nothing."""

import re

# RDS identifiers: 1-63 letters, digits or hyphens; first a letter; no '--'; no trailing '-'.
_RDS_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
_SNAPSHOT_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):rds:(?P<region>[a-z0-9-]+):(?P<account_id>\d{12}):"
    r"cluster-snapshot:(?P<identifier>[^:]+)$"
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SSM_PATH = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")


def rds_identifier_problem(value):
    """Why ``value`` is not a valid RDS identifier, or None when it is."""
    if not isinstance(value, str) or not _RDS_IDENTIFIER.match(value):
        return "must be 1 to 63 letters, digits or hyphens and start with a letter"
    if "--" in value:
        return "must not contain two consecutive hyphens"
    if value.endswith("-"):
        return "must not end with a hyphen"
    return None


def snapshot_reference_problem(value):
    """A snapshot is named by an RDS identifier or by a cluster-snapshot ARN."""
    if isinstance(value, str) and value.startswith("arn:"):
        if parse_snapshot_arn(value) is None:
            return ("is not a cluster snapshot ARN "
                    "(arn:aws:rds:REGION:ACCOUNT:cluster-snapshot:NAME)")
        return None
    if isinstance(value, str) and value.startswith("rds:"):
        # Automated snapshots are named rds:<cluster>-<date>.
        return rds_identifier_problem(value[4:])
    return rds_identifier_problem(value)


def parse_snapshot_arn(value):
    """The parts of a cluster snapshot ARN as a dict, or None when it is not one."""
    match = _SNAPSHOT_ARN.match(value or "")
    return match.groupdict() if match else None


def account_id_problem(value):
    if not isinstance(value, str) or not _ACCOUNT_ID.match(value):
        return "must be a 12-digit AWS account id"
    return None


def ssm_path_problem(value):
    """SSM parameter names used as pointers must be full paths: /a/b/c."""
    if not isinstance(value, str) or not _SSM_PATH.match(value):
        return ("must be an SSM parameter path such as /dbops/acceptance/snapshot/latest "
                "(a leading '/', then letters, digits, '_', '.', '-' separated by '/')")
    if len(value) > 1011:
        return "must be at most 1011 characters"
    return None


def check_inputs(module, checks):
    """Fail the module naming every (field, problem) found; ``checks`` maps field -> (rule, value).

    ``rule`` is one of the *_problem functions above; None values are skipped.
    """
    problems = []
    for field, (rule, value) in checks.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None:
                continue
            problem = rule(item)
            if problem:
                problems.append("%s %r %s" % (field, item, problem))
    if problems:
        module.fail_json(msg="Invalid input: " + "; ".join(problems), invalid_fields=sorted(
            {p.split(" ", 1)[0] for p in problems}))


def compile_identifier_pattern(module):
    """The compiled O(identifier_pattern) (empty matches all); fails the module when invalid."""
    pattern = module.params["identifier_pattern"] or ""
    try:
        return re.compile(pattern)
    except re.error as error:
        return module.fail_json(msg="Invalid input: identifier_pattern %r is not a valid regular "
                                "expression: %s" % (pattern, error),
                                invalid_fields=["identifier_pattern"])
