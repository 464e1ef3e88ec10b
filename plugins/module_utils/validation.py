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


_CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:(?P<name>.+)$")


def cluster_reference_problem(value):
    """A cluster is named by an RDS identifier or by a cluster ARN."""
    if isinstance(value, str) and value.startswith("arn:"):
        match = _CLUSTER_ARN.match(value)
        if match is None:
            return "is not a cluster ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME)"
        return rds_identifier_problem(match.group("name"))
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


# --- named rules, for the roles' input checks (filter dbops.aurora.input_problems) ----------

_PATTERNS = {
    # name: (pattern, what a valid value looks like)
    "secret_arn": (r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$",
                   "a Secrets Manager secret ARN"),
    # A secret by ARN or by name (Secrets Manager takes either).
    "secret_ref": (r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+"
                   r"|[A-Za-z0-9/_+=.@-]{1,512})$", "a Secrets Manager secret ARN or name"),
    "rds_cluster_arn": (r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[a-z][a-z0-9-]{0,62}$",
                        "an RDS cluster ARN (never a wildcard)"),
    "lambda_arn": (r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+"
                   r"(:[A-Za-z0-9_$-]+)?$", "a Lambda function ARN"),
    "iam_principal_arn": (r"^arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)/[A-Za-z0-9+=,.@_/-]+)$",
                          "an IAM role, user or account-root ARN (never a wildcard)"),
    "kms_key": (r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+"
                r"|alias/[A-Za-z0-9/_-]+|[0-9a-f-]{36})$", "a KMS key id, key ARN or alias"),
    "subnet_id": (r"^subnet-[0-9a-f]{8,17}$", "a subnet id (subnet-...)"),
    "security_group_id": (r"^sg-[0-9a-f]{8,17}$", "a security group id (sg-...)"),
    "ami_id": (r"^ami-[0-9a-f]{8,17}$", "an AMI id (ami-...)"),
    "instance_type": (r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", "an instance type such as t3.micro"),
    "package": (r"^[A-Za-z0-9][A-Za-z0-9_.+:-]*$", "a package name"),
    "bucket": (r"^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
               "an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)"),
    "pg_name": (r"^[a-z_][a-z0-9_]{0,62}$",
                "a lower-case PostgreSQL name (letters, digits, '_', not starting with a digit, "
                "at most 63)"),
    "pg_user": (r"^[A-Za-z][A-Za-z0-9_]{0,62}$",
                "a user name (a letter, then letters, digits or '_', at most 63)"),
    "secret_name": (r"^[A-Za-z0-9/_+=.@-]{1,512}$", "1-512 of letters, digits and /_+=.@-"),
    "iam_name": (r"^[A-Za-z0-9+=,.@_-]{1,56}$", "1-56 of letters, digits and +=,.@_-"),
    "major_version": (r"^\d{1,3}$", "a major version such as 16"),
    "weekly_window": (r"^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun)"
                      r":\d{2}:\d{2}$", "a weekly UTC window such as sun:02:00-sun:06:00"),
    "daily_window": (r"^\d{2}:\d{2}-\d{2}:\d{2}$", "a daily UTC window such as 02:00-03:00"),
    "window": (r"^((mon|tue|wed|thu|fri|sat|sun):)?\d{2}:\d{2}-((mon|tue|wed|thu|fri|sat|sun):)?"
               r"\d{2}:\d{2}$", "a UTC window such as sun:02:00-sun:06:00 or 02:00-06:00"),
    "service_name": (r"^[a-z0-9.-]+$", "an AWS service name such as ssm"),
    "non_empty": (r"^.+$", "not empty"),
    "lowercase": (r"^[^A-Z]*$", "in lower case"),
}

_FUNCTIONS = {
    "rds_identifier": rds_identifier_problem,
    "snapshot": snapshot_reference_problem,
    "account_id": account_id_problem,
    "ssm_path": ssm_path_problem,
}


def _number_problem(value, kind, bounds):
    """``kind`` int or number; ``bounds`` 'a..b', '>=a' or '>a'."""
    try:
        number = float(value) if kind == "number" else int(str(value))
    except (TypeError, ValueError):
        return "must be %s" % ("a number" if kind == "number" else "a whole number")
    if bounds.startswith(">="):
        low, high, strict = float(bounds[2:]), None, False
    elif bounds.startswith(">"):
        low, high, strict = float(bounds[1:]), None, True
    else:
        low, high = (float(part) for part in bounds.split(".."))
        strict = False
    if (number <= low if strict else number < low) or (high is not None and number > high):
        return "must be %s" % ("more than %g" % low if strict else "at least %g" % low
                               if high is None else "%g to %g" % (low, high))
    return None


def rule_problem(value, rule):
    """Why ``value`` breaks ``rule``, or None.  Rules: a name above (rds_identifier, secret_arn,
    ...), 'rds_identifier max N', 'int a..b', 'int >=a', 'number >a', 'one of a|b', 'half
    steps' (a multiple of 0.5), with the prefixes 'optional ' (empty or none is fine) and
    'each ' (a list whose items all follow the rule)."""
    if rule.startswith("optional "):
        if value is None or value == "" or value == []:
            return None
        rule = rule[len("optional "):]
    if rule.startswith("each "):
        if not isinstance(value, (list, tuple)):
            return "must be a list"
        for item in value:
            problem = rule_problem(item, rule[len("each "):])
            if problem:
                return "item %r %s" % (item, problem)
        return None
    kind, dummy, argument = rule.partition(" ")
    if kind in ("int", "number"):
        return _number_problem(value, kind, argument)
    if kind == "one":  # one of a|b|c
        choices = argument[len("of "):].split("|")
        return None if str(value) in choices else "must be one of %s" % ", ".join(choices)
    if rule == "half steps":
        try:
            return None if float(value) * 2 == round(float(value) * 2) else \
                "must be a multiple of 0.5"
        except (TypeError, ValueError):
            return "must be a number"
    if kind == "rds_identifier" and argument.startswith("max "):
        problem = rds_identifier_problem(value)
        limit = int(argument[len("max "):])
        if problem is None and len(value) > limit:
            problem = "must be at most %d characters" % limit
        return problem
    if kind in _FUNCTIONS:
        return _FUNCTIONS[kind](value)
    if kind in _PATTERNS:
        pattern, looks = _PATTERNS[kind]
        if not isinstance(value, str) or not re.match(pattern, value):
            return "must be %s" % looks
        return None
    raise ValueError("unknown input rule %r" % rule)


def input_problems(checks):
    """``checks``: [field, value, rule] triples; one 'field: got ...; it must be ...' line per
    broken rule, in order, and nothing for the rules kept."""
    problems = []
    for field, value, rule in checks:
        problem = rule_problem(value, rule)
        if problem:
            problems.append("%s: got %r; it %s" % (field, value, problem))
    return problems
