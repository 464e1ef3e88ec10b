#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight_info
short_description: Check, read-only, that one account is ready for the snapshot refresh
version_added: 0.1.0
description:
  - Checks the preconditions of a real refresh on one side, with that side's credentials only,
    and returns one finding per check. Each finding says what is wrong and what to fix.
  - A failed check does not fail the module; the caller decides (RV(failed_checks)). The module
    fails only on input it cannot use or on an AWS error no check expects.
  - Access denied is a finding, not an error. It names the action the credentials lack.
  - "Checks of O(side=production) (the account that shares snapshots), by name.
    C(account) - the credentials act in O(expected_account_id).
    C(share_account_ids) - O(share_account_ids) are 1 to 20 account ids other than this one.
    C(source_cluster) - O(cluster_identifier) exists and its snapshots can be shared (it is not
    encrypted with the AWS-managed C(aws/rds) key, or O(kms_key_id) names a key to copy them
    under). C(kms_key) - the key the shared snapshots are encrypted with is customer-managed
    and enabled. C(kms_key_policy) - its key policy lets each account of O(share_account_ids)
    use it (C(kms:Decrypt), C(kms:DescribeKey), C(kms:CreateGrant), C(kms:ReEncrypt*) and
    C(kms:GenerateDataKey*))."
  - "Checks of O(side=acceptance) (the account that is refreshed), by name.
    C(account) - the credentials act in O(expected_account_id), which is not
    O(source_account_id). C(latest_pointer), C(current_pointer), C(lock) - the SSM parameters
    are readable (absent is fine, the refresh creates them). C(secret_arn) - O(secret_arn) is
    given or O(secret_arn_parameter) resolves to a secret ARN. C(secret_value) - the secret is
    readable and holds C(username) and C(password). C(canonical_cluster) -
    O(canonical_identifier) exists and is not tagged C(environment=production).
    C(shared_snapshots) - an available snapshot of O(source_cluster_identifier) shared by
    O(source_account_id) is visible."
  - When the credentials act in the wrong account (C(account) fails), no other check runs,
    since it would look at the wrong account's resources.
  - Never changes anything, and never returns the secret's value.
author:
  - dbops.aurora contributors (@dbops)
options:
  side:
    description:
      - Which account these credentials are meant for, and so which checks run.
    type: str
    required: true
    choices: [production, acceptance]
  expected_account_id:
    description:
      - The 12-digit id of the account these credentials must act in. Without it the
        C(account) check fails, since it cannot tell a wrong account from the right one.
    type: str
  setting_names:
    description:
      - "How the caller names these options, used in the details and fix texts, for example
        V({cluster_identifier: snapshot_share_cluster_identifier}). Options not listed are
        named as they are."
    type: dict
    default: {}
  cluster_identifier:
    description:
      - Production side. The cluster whose snapshots are shared.
    type: str
  kms_key_id:
    description:
      - Production side. The customer-managed key a snapshot is copied under before it is
        shared when the cluster uses the AWS-managed key (id, ARN or C(alias/NAME)).
    type: str
  share_account_ids:
    description:
      - Production side. The accounts snapshots are shared with (the acceptance accounts).
    type: list
    elements: str
    default: []
  source_account_id:
    description:
      - Acceptance side. The production account the snapshots come from.
    type: str
  source_cluster_identifier:
    description:
      - Acceptance side. The production cluster the snapshots are taken of.
    type: str
  canonical_identifier:
    description:
      - Acceptance side. The identifier applications connect to, which the refresh replaces.
    type: str
  latest_parameter:
    description:
      - Acceptance side. SSM parameter of the latest pointer.
    type: str
    default: /dbops/acceptance/snapshot/latest
  current_parameter:
    description:
      - Acceptance side. SSM parameter of the current pointer.
    type: str
    default: /dbops/acceptance/snapshot/current
  lock_parameter:
    description:
      - Acceptance side. SSM parameter of the refresh lock.
    type: str
    default: /dbops/acceptance/refresh/lock
  secret_arn:
    description:
      - Acceptance side. ARN of acceptance's master credentials secret.
      - Takes precedence over O(secret_arn_parameter).
    type: str
  secret_arn_parameter:
    description:
      - Acceptance side. SSM parameter holding the secret's ARN (provisioning publishes it).
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Key policy statements are evaluated as far as a static reading allows. An unconditional
    C(Deny) wins over an C(Allow). A statement with a condition other than
    C(kms:GrantIsForAWSResource), C(kms:ViaService) or C(kms:CallerAccount) is not counted, and
    the finding names it, so an allow that depends on such a condition shows as missing.
    IAM policies in the acceptance account are not seen from production; the acceptance
    checks show whether those credentials can read what they need.
  - "IAM actions, production side: sts:GetCallerIdentity, rds:DescribeDBClusters,
    kms:DescribeKey, kms:GetKeyPolicy."
  - "IAM actions, acceptance side: sts:GetCallerIdentity, ssm:GetParameter,
    secretsmanager:GetSecretValue, rds:DescribeDBClusters, rds:DescribeDBClusterSnapshots."
"""

EXAMPLES = r"""
- name: Check production before the first scheduled share
  dbops.aurora.preflight_info:
    side: production
    expected_account_id: "111111111111"
    cluster_identifier: app-prod
    kms_key_id: alias/app-prod
    share_account_ids: ["222222222222"]
  register: production_preflight

- name: Check acceptance before the first scheduled refresh
  dbops.aurora.preflight_info:
    side: acceptance
    expected_account_id: "222222222222"
    source_account_id: "111111111111"
    source_cluster_identifier: app-prod
    canonical_identifier: app-acceptance
    secret_arn_parameter: /app/acceptance/db-credentials-arn
    setting_names:
      canonical_identifier: refresh_canonical_identifier
  register: acceptance_preflight

- name: Stop when a check failed
  ansible.builtin.fail:
    msg: "{{ acceptance_preflight.findings | rejectattr('ok') | map(attribute='fix') | list }}"
  when: acceptance_preflight.failed_checks | length > 0
"""

RETURN = r"""
findings:
  description: One entry per check that ran, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: The check's name, for example V(kms_key_policy).
      type: str
      sample: kms_key_policy
    ok:
      description: Whether the precondition holds.
      type: bool
      sample: false
    detail:
      description: What was found.
      type: str
      sample: "alias/app-prod's key policy does not let 222222222222 use the key: missing kms:Decrypt, kms:CreateGrant"
    fix:
      description: What to change so the check passes; empty when it passes.
      type: str
      sample: "Add a statement to the key policy that allows arn:aws:iam::222222222222:root ..."
failed_checks:
  description: The names of the checks that failed, in order.
  returned: always
  type: list
  elements: str
  sample: [kms_key_policy]
ok:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: true
account_id:
  description: The account the credentials act in (null when even that could not be read).
  returned: always
  type: str
  sample: "222222222222"
caller_arn:
  description: The identity the credentials act as.
  returned: always
  type: str
  sample: arn:aws:iam::222222222222:user/dbops-acceptance
canonical_cluster:
  description:
    - Acceptance side. Where the canonical cluster listens, so the caller can test that the SQL
      runner reaches it; null when it was not found or not looked at.
  returned: always
  type: dict
  contains:
    identifier:
      description: The cluster identifier.
      type: str
      sample: app-acceptance
    endpoint:
      description: The writer endpoint.
      type: str
      sample: app-acceptance.cluster-abc.eu-west-1.rds.amazonaws.com
    port:
      description: The port.
      type: int
      sample: 5432
"""

import fnmatch
import json
import re

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbops.aurora.plugins.module_utils._snapshots import (
    list_cluster_snapshots,
    owner_account_id,
    snapshot_name,
    snapshot_tags,
)
from ansible_collections.dbops.aurora.plugins.module_utils.rds import describe_cluster, retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.ssm import iso
from ansible_collections.dbops.aurora.plugins.module_utils.validation import (
    account_id_problem,
    rds_identifier_problem,
    ssm_path_problem,
)

# AWS allows a snapshot to be shared with at most 20 accounts.
MAX_SHARE_ACCOUNTS = 20
# What an account needs on the source key to copy or restore a snapshot shared with it
# (AWS: "Allowing access to an AWS KMS key" for shared encrypted snapshots), each with the
# concrete actions the wildcard stands for.
REQUIRED_KEY_ACTIONS = {
    "kms:Decrypt": ["kms:decrypt"],
    "kms:DescribeKey": ["kms:describekey"],
    "kms:CreateGrant": ["kms:creategrant"],
    "kms:ReEncrypt*": ["kms:reencryptfrom", "kms:reencryptto"],
    "kms:GenerateDataKey*": ["kms:generatedatakey", "kms:generatedatakeywithoutplaintext"],
}
# Conditions RDS meets when it uses the key for a copy or restore in the target account.
UNDERSTOOD_CONDITION_KEYS = ("kms:grantisforawsresource", "kms:viaservice")
DENIED_CODES = ("AccessDenied", "AccessDeniedException")
# How AWS answers credentials it does not accept (unknown, revoked, expired or mistyped).
REJECTED_CREDENTIAL_CODES = ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                             "UnrecognizedClientException")
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")


class ExpectedError:
    """How an AWS call failed in a way a check expects: access denied, or one of its codes."""

    def __init__(self, code, message):
        self.code = code
        self.message = message

    @property
    def denied(self):
        return self.code in DENIED_CODES

    def describe(self):
        return "%s: %s" % (self.code, self.message) if self.message else self.code


def error_message(error):
    message = error.response.get("Error", {}).get("Message", "") or ""
    # Some endpoints answer a JSON-protocol call with an XML error document.
    inner = re.search(r"<Message>(.*?)</Message>", message, re.S)
    return inner.group(1) if inner else message


def attempt(module, what, call, expected=()):
    """``(result, None)``, or ``(None, ExpectedError)`` when AWS refuses the call for lack of
    permission or answers with one of the ``expected`` error codes.  Any other error fails the
    module: it is not a finding about the account but a problem of the run."""
    try:
        return call(), None
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in expected:
            return None, ExpectedError(code, error_message(error))
        # 403 is how AWS answers a call IAM denies, whatever code the service gives it.
        if code in DENIED_CODES or status == 403:
            return None, ExpectedError("AccessDenied", error_message(error))
        module.fail_json_aws(error, msg="Failed to " + what)
    except botocore.exceptions.BotoCoreError as error:
        module.fail_json_aws(error, msg="Failed to " + what)
    return None, None  # not reached: fail_json_aws exits


def finding(check, ok, detail, fix=""):
    return {"check": check, "ok": bool(ok), "detail": detail, "fix": "" if ok else fix}


class Preflight:
    """The checks of one side; each method returns one finding."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.account_id = None
        self.caller_arn = None
        self.canonical_cluster = None
        self.clients = {}

    def name(self, option):
        """The caller's name for an option, for the fix texts."""
        return self.params["setting_names"].get(option) or option

    def client(self, service):
        if service not in self.clients:
            self.clients[service] = retrying_client(self.module, service)
        return self.clients[service]

    def setting_problem(self, option, rule):
        """Why option's value is missing or malformed (naming the setting), or None."""
        value = self.params[option]
        if not value:
            return "%s is not set" % self.name(option)
        problem = rule(value)
        return "%s %r %s" % (self.name(option), value, problem) if problem else None

    # Both sides -------------------------------------------------------------------------

    def check_account(self):
        identity, failure = attempt(self.module, "read the caller identity",
                                    lambda: self.client("sts").get_caller_identity(
                                        aws_retry=True),
                                    expected=REJECTED_CREDENTIAL_CODES)
        if failure:
            return finding("account", False, "cannot tell which account these credentials act "
                           "in (%s)" % failure.describe(),
                           "Give the %s job valid credentials of its account (the AWX "
                           "credential, or the profile it uses)." % self.params["side"])
        self.account_id, self.caller_arn = identity["Account"], identity["Arn"]
        acting = "these credentials act as %s in account %s" % (self.caller_arn, self.account_id)
        if self.params["side"] == "acceptance" and self.account_id == self.params["source_account_id"]:
            return finding("account", False, "%s, the production (source) account %s" % (
                acting, self.name("source_account_id")),
                "Run the acceptance side with the acceptance account's credentials (profile "
                "or AWX credential), never production's.")
        problem = self.setting_problem("expected_account_id", account_id_problem)
        if problem:
            return finding("account", False, "%s; %s" % (acting, problem),
                           "Set %s to this environment's 12-digit account id."
                           % self.name("expected_account_id"))
        expected = self.params["expected_account_id"]
        if self.account_id != expected:
            return finding("account", False, "%s, not %s (%s)" % (
                acting, expected, self.name("expected_account_id")),
                "Give the %s job the credentials of account %s, or correct %s."
                % (self.params["side"], expected, self.name("expected_account_id")))
        return finding("account", True, acting + ", as expected")

    # Production side ----------------------------------------------------------------------

    def check_share_account_ids(self):
        accounts = self.params["share_account_ids"]
        setting = self.name("share_account_ids")
        fix = ("Set %s to the acceptance account ids (1 to %d, 12 digits each, not this account)."
               % (setting, MAX_SHARE_ACCOUNTS))
        if not accounts:
            return finding("share_account_ids", False, "%s is empty: snapshots would be shared "
                           "with no one" % setting, fix)
        problems = ["%r %s" % (account, account_id_problem(account)) for account in accounts
                    if account_id_problem(account)]
        if len(accounts) > MAX_SHARE_ACCOUNTS:
            problems.append("%d accounts, AWS shares a snapshot with at most %d"
                            % (len(accounts), MAX_SHARE_ACCOUNTS))
        if self.account_id in accounts:
            problems.append("%s is this (production) account itself" % self.account_id)
        if problems:
            return finding("share_account_ids", False, "%s: %s" % (setting, "; ".join(problems)),
                           fix)
        return finding("share_account_ids", True, "snapshots are shared with %s"
                       % ", ".join(accounts))

    def check_source_cluster(self):
        """Returns (finding, the ARN or id of the key shared snapshots are encrypted with)."""
        problem = self.setting_problem("cluster_identifier", rds_identifier_problem)
        if problem:
            return finding("source_cluster", False, problem, "Set %s to the production "
                           "cluster's identifier." % self.name("cluster_identifier")), None
        identifier = self.params["cluster_identifier"]
        cluster, failure = attempt(self.module, "describe cluster %s" % identifier,
                                   lambda: describe_cluster(self.client("rds"), identifier))
        if failure:
            return finding("source_cluster", False, "cannot describe %s (%s)" % (
                identifier, failure.describe()), "Allow rds:DescribeDBClusters on %s to the "
                "production job's credentials." % identifier), None
        if cluster is None:
            return finding("source_cluster", False, "no cluster %s in account %s" % (
                identifier, self.account_id), "Provision it, or correct %s."
                % self.name("cluster_identifier")), None
        if not cluster.get("StorageEncrypted"):
            return finding("source_cluster", True, "%s (%s) is not encrypted: its snapshots "
                           "are shared without a key" % (identifier, cluster.get("Status"))), None
        key_id = cluster.get("KmsKeyId")
        key, failure = self.describe_key(key_id)
        if failure and not failure.denied:
            return finding("source_cluster", False, "%s is encrypted with %s, which does not "
                           "exist (%s)" % (identifier, key_id, failure.describe()),
                           "Restore the key (cancel its deletion) before anything else: "
                           "without it %s cannot be read." % identifier), None
        if failure:
            return finding("source_cluster", False, "cannot describe %s's key %s (%s)" % (
                identifier, key_id, failure.describe()), "Allow kms:DescribeKey on %s to the "
                "production job's credentials." % key_id), None
        if key.get("KeyManager") != "AWS":
            return finding("source_cluster", True, "%s (%s) is encrypted with the "
                           "customer-managed key %s" % (identifier, cluster.get("Status"),
                                                        key_id)), key_id
        copy_key = self.params["kms_key_id"]
        if copy_key:
            return finding("source_cluster", True, "%s is encrypted with the AWS-managed "
                           "aws/rds key, which cannot be shared: each snapshot is first copied "
                           "under %s (slower; re-encrypting the cluster avoids it)"
                           % (identifier, copy_key)), copy_key
        return finding("source_cluster", False, "%s is encrypted with the AWS-managed aws/rds "
                       "key, which AWS does not let you share" % identifier,
                       "Set %s to a customer-managed key that the acceptance accounts may use, "
                       "so each snapshot is copied under it before it is shared."
                       % self.name("kms_key_id")), None

    def describe_key(self, key_id):
        return attempt(self.module, "describe KMS key %s" % key_id,
                       lambda: self.client("kms").describe_key(
                           KeyId=key_id, aws_retry=True)["KeyMetadata"],
                       expected=("NotFoundException",))

    def check_kms_key(self, key_id):
        """Returns (finding, key metadata when the key can be shared)."""
        key, failure = self.describe_key(key_id)
        if failure and failure.denied:
            return finding("kms_key", False, "cannot describe %s (%s)" % (
                key_id, failure.describe()), "Allow kms:DescribeKey on the key to the "
                "production job's credentials."), None
        if failure:
            return finding("kms_key", False, "no KMS key %s in account %s" % (
                key_id, self.account_id), "Create it or correct %s."
                % self.name("kms_key_id")), None
        problems = []
        if key.get("KeyManager") != "CUSTOMER":
            problems.append("it is managed by AWS, and AWS-managed keys cannot be shared")
        if key.get("KeyState") != "Enabled":
            problems.append("it is %s, not Enabled" % key.get("KeyState"))
        if problems:
            return finding("kms_key", False,
                           "%s: %s" % (key_label(key_id, key), "; ".join(problems)),
                           "Encrypt the shared snapshots with an enabled customer-managed key "
                           "(%s)." % self.name("kms_key_id")), None
        return finding("kms_key", True, "%s is customer-managed and enabled"
                       % key_label(key_id, key)), key

    def check_kms_key_policy(self, key):
        accounts = [account for account in self.params["share_account_ids"]
                    if not account_id_problem(account)]
        policy_text, failure = attempt(self.module, "read the key policy of %s" % key["Arn"],
                                       lambda: self.client("kms").get_key_policy(
                                           KeyId=key["KeyId"], PolicyName="default",
                                           aws_retry=True)["Policy"])
        if failure:
            return finding("kms_key_policy", False, "cannot read the key policy of %s (%s)" % (
                key["Arn"], failure.describe()), "Allow kms:GetKeyPolicy on the key to the "
                "production job's credentials.")
        try:
            statements = statements_of(json.loads(policy_text))
        except ValueError as error:
            return finding("kms_key_policy", False, "the key policy of %s is not JSON: %s" % (
                key["Arn"], error), "Put a valid key policy on the key.")
        if not accounts:
            return finding("kms_key_policy", False, "no valid account in %s to check the key "
                           "policy of %s for" % (self.name("share_account_ids"), key["Arn"]),
                           "Fix %s first (see share_account_ids)."
                           % self.name("share_account_ids"))
        gaps, notes = [], []
        for account in accounts:
            missing, principals, skipped = key_access(statements, account)
            if missing:
                gaps.append("%s lacks %s" % (account, ", ".join(missing)))
            elif any(not principal.endswith(":root") and principal not in ("*", account)
                     for principal in principals):
                notes.append("%s may use it only as %s" % (account, ", ".join(sorted(principals))))
            notes.extend(skipped)
        skipped_note = (" (not counted: %s)" % "; ".join(sorted(set(notes)))) if notes else ""
        if gaps:
            return finding("kms_key_policy", False, "the key policy of %s does not let the "
                           "acceptance account(s) use the key: %s%s" % (
                               key["Arn"], "; ".join(gaps), skipped_note),
                           "Add to the key policy of %s a statement that allows %s the actions "
                           "%s (the cluster role writes one from cluster_kms_share_account_ids); "
                           "without them acceptance cannot copy the shared snapshots." % (
                               key["Arn"], ", ".join("arn:aws:iam::%s:root" % account
                                                     for account in accounts),
                               ", ".join(REQUIRED_KEY_ACTIONS)))
        return finding("kms_key_policy", True, "the key policy of %s lets %s use the key%s" % (
            key["Arn"], ", ".join(accounts), skipped_note))

    def production(self):
        findings = [self.check_share_account_ids()]
        cluster_finding, key_id = self.check_source_cluster()
        findings.append(cluster_finding)
        if key_id:
            key_finding, key = self.check_kms_key(key_id)
            findings.append(key_finding)
            if key:
                findings.append(self.check_kms_key_policy(key))
        return findings

    # Acceptance side ----------------------------------------------------------------------

    def read_parameter(self, name):
        """(parameter or None when absent, ExpectedError or None)."""
        parameter, failure = attempt(self.module, "read SSM parameter %s" % name,
                                     lambda: self.client("ssm").get_parameter(
                                         Name=name, aws_retry=True)["Parameter"],
                                     expected=("ParameterNotFound",))
        if failure and failure.code == "ParameterNotFound":
            return None, None
        return parameter, failure

    def check_parameter(self, check, option, what):
        problem = self.setting_problem(option, ssm_path_problem)
        if problem:
            return finding(check, False, problem, "Set %s to the SSM parameter path of the %s."
                           % (self.name(option), what))
        name = self.params[option]
        parameter, failure = self.read_parameter(name)
        if failure:
            return finding(check, False, "cannot read %s (%s)" % (name, failure.describe()),
                           "Allow ssm:GetParameter on %s to the acceptance job's credentials."
                           % name)
        if parameter is None:
            return finding(check, True, "%s is absent: the first run that needs it creates it"
                           % name)
        return finding(check, True, "%s is readable (version %s): %s" % (
            name, parameter.get("Version"), parameter.get("Value")))

    def check_secret_arn(self):
        """Returns (finding, the secret ARN or None)."""
        set_it = ("Set %s, or %s to the SSM parameter provisioning publishes the ARN in."
                  % (self.name("secret_arn"), self.name("secret_arn_parameter")))
        arn, source = self.params["secret_arn"], self.name("secret_arn")
        if not arn:
            problem = self.setting_problem("secret_arn_parameter", ssm_path_problem)
            if problem:
                return finding("secret_arn", False, "no secret: %s is not set, and %s" % (
                    self.name("secret_arn"), problem), set_it), None
            name = self.params["secret_arn_parameter"]
            parameter, failure = self.read_parameter(name)
            if failure:
                return finding("secret_arn", False, "cannot read %s (%s)" % (
                    name, failure.describe()), "Allow ssm:GetParameter on %s to the acceptance "
                    "job's credentials." % name), None
            if parameter is None:
                return finding("secret_arn", False, "%s does not exist" % name,
                               "Provision acceptance (it publishes the secret's ARN "
                               "there). Or: " + set_it), None
            arn, source = parameter.get("Value"), name
        if not SECRET_ARN.match(arn or ""):
            return finding("secret_arn", False, "%r (from %s) is not a Secrets Manager secret "
                           "ARN" % (arn, source), set_it), None
        return finding("secret_arn", True, "the secret is %s (from %s)" % (arn, source)), arn

    def check_secret_value(self, arn):
        secret, failure = attempt(self.module, "read secret %s" % arn,
                                  lambda: self.client("secretsmanager").get_secret_value(
                                      SecretId=arn, aws_retry=True),
                                  expected=("ResourceNotFoundException",
                                            "InvalidRequestException"))
        if failure and failure.denied:
            return finding("secret_value", False, "cannot read %s (%s)" % (
                arn, failure.describe()), "Allow secretsmanager:GetSecretValue on %s (and "
                "kms:Decrypt on its key) to the acceptance job's credentials." % arn)
        if failure:
            return finding("secret_value", False, "%s cannot be read: %s" % (
                arn, failure.describe()), "Provision acceptance's secret, or correct %s."
                % self.name("secret_arn_parameter" if not self.params["secret_arn"]
                            else "secret_arn"))
        try:
            value = json.loads(secret.get("SecretString") or "")
        except ValueError:
            value = None
        missing = [key for key in ("username", "password")
                   if not isinstance(value, dict) or not value.get(key)]
        if missing:
            return finding("secret_value", False, "%s is not a JSON object with a non-empty "
                           "%s" % (arn, " and ".join(missing)),
                           "Store the master credentials in %s as JSON with username and "
                           "password (the secret role does)." % arn)
        return finding("secret_value", True, "%s is readable and holds username and password "
                       "(user %s)" % (arn, value["username"]))

    def check_canonical_cluster(self):
        problem = self.setting_problem("canonical_identifier", rds_identifier_problem)
        if problem:
            return finding("canonical_cluster", False, problem, "Set %s to the identifier "
                           "applications connect to." % self.name("canonical_identifier"))
        identifier = self.params["canonical_identifier"]
        cluster, failure = attempt(self.module, "describe cluster %s" % identifier,
                                   lambda: describe_cluster(self.client("rds"), identifier))
        if failure:
            return finding("canonical_cluster", False, "cannot describe %s (%s)" % (
                identifier, failure.describe()), "Allow rds:DescribeDBClusters to the "
                "acceptance job's credentials.")
        if cluster is None:
            return finding("canonical_cluster", False, "no cluster %s in account %s" % (
                identifier, self.account_id), "Provision acceptance first (the refresh takes "
                "its network, security groups, parameter group and key from the cluster "
                "serving now), or correct %s." % self.name("canonical_identifier"))
        self.canonical_cluster = {"identifier": identifier, "endpoint": cluster.get("Endpoint"),
                                  "port": cluster.get("Port")}
        environment = snapshot_tags(cluster).get("environment")
        if environment == "production":
            return finding("canonical_cluster", False, "%s in account %s is tagged "
                           "environment=production: the refresh refuses to replace it" % (
                               identifier, self.account_id),
                           "If %s really is acceptance's, tag it environment=acceptance; "
                           "otherwise point %s at acceptance's cluster." % (
                               identifier, self.name("canonical_identifier")))
        return finding("canonical_cluster", True, "%s (%s) is tagged environment=%s" % (
            identifier, cluster.get("Status"), environment))

    def check_shared_snapshots(self):
        problems = [problem for problem in (
            self.setting_problem("source_account_id", account_id_problem),
            self.setting_problem("source_cluster_identifier", rds_identifier_problem))
            if problem]
        if problems:
            return finding("shared_snapshots", False, "; ".join(problems), "Set %s and %s to "
                           "production's account id and cluster." % (
                               self.name("source_account_id"),
                               self.name("source_cluster_identifier")))
        source_account = self.params["source_account_id"]
        source_cluster = self.params["source_cluster_identifier"]
        listed, failure = attempt(self.module, "list shared cluster snapshots",
                                  lambda: list_cluster_snapshots(self.client("rds"), "shared"))
        if failure:
            return finding("shared_snapshots", False, "cannot list shared snapshots (%s)"
                           % failure.describe(), "Allow rds:DescribeDBClusterSnapshots to the "
                           "acceptance job's credentials.")
        ours = [snapshot for snapshot in listed
                if owner_account_id(snapshot) == source_account
                and (snapshot.get("DBClusterIdentifier") or "").lower() == source_cluster.lower()]
        available = sorted((snapshot for snapshot in ours if snapshot.get("Status") == "available"),
                           key=lambda snapshot: snapshot.get("SnapshotCreateTime"), reverse=True)
        if not available:
            return finding("shared_snapshots", False, "no available snapshot of %s shared by "
                           "%s is visible to account %s (%d shared snapshots listed, %d of "
                           "that cluster)" % (source_cluster, source_account, self.account_id,
                                              len(listed), len(ours)),
                           "Run playbooks/share_snapshot.yml in production, sharing with %s, "
                           "and check %s and %s." % (self.account_id,
                                                     self.name("source_account_id"),
                                                     self.name("source_cluster_identifier")))
        newest = available[0]
        return finding("shared_snapshots", True, "%d available snapshot(s) of %s shared by %s; "
                       "newest %s (%s, key %s)" % (
                           len(available), source_cluster, source_account,
                           snapshot_name(newest), iso(newest.get("SnapshotCreateTime")),
                           newest.get("KmsKeyId") or "not encrypted"))

    def acceptance(self):
        findings = [
            self.check_parameter("latest_pointer", "latest_parameter", "latest pointer"),
            self.check_parameter("current_pointer", "current_parameter", "current pointer"),
            self.check_parameter("lock", "lock_parameter", "refresh lock"),
        ]
        secret_finding, arn = self.check_secret_arn()
        findings.append(secret_finding)
        if arn:
            findings.append(self.check_secret_value(arn))
        findings.append(self.check_canonical_cluster())
        findings.append(self.check_shared_snapshots())
        return findings

    def run(self):
        account = self.check_account()
        findings = [account]
        # In another account every other check would describe the wrong resources.
        wrong_account = not account["ok"] and self.account_id is not None and (
            self.account_id == self.params["source_account_id"]
            or (self.params["expected_account_id"]
                and self.account_id != self.params["expected_account_id"]))
        if self.account_id is None or wrong_account:
            account["detail"] += ("; no other check ran: they would look at the resources of "
                                  "whichever account this is")
        else:
            findings.extend(getattr(self, self.params["side"])())
        return findings


def key_label(key_id, key):
    """The key as configured, and its ARN when it was named otherwise (an alias)."""
    return key_id if key_id == key["Arn"] else "%s (%s)" % (key_id, key["Arn"])


def statements_of(policy):
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    return statements if isinstance(statements, list) else [statements]


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def principals_in(statement, account):
    """The principals of ``statement`` that stand for ``account`` or anyone."""
    principal = statement.get("Principal")
    values = as_list(principal.get("AWS")) if isinstance(principal, dict) else as_list(principal)
    found = set()
    for value in values:
        value = str(value)
        if value == "*" or value == account or value.split(":")[4:5] == [account]:
            found.add(value)
    return found


def covers(statement, action):
    """Whether ``statement`` applies to ``action`` (lower case), Action or NotAction."""
    if "NotAction" in statement:
        return not any(fnmatch.fnmatchcase(action, str(pattern).lower())
                       for pattern in as_list(statement["NotAction"]))
    return any(fnmatch.fnmatchcase(action, str(pattern).lower())
               for pattern in as_list(statement.get("Action")))


def condition_note(statement, account):
    """None when RDS's use of the key on ``account``'s behalf meets the statement's condition;
    otherwise why the statement is not counted."""
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, value in (keys or {}).items():
            key = key.lower()
            if key == "kms:calleraccount":
                if account not in [str(item) for item in as_list(value)]:
                    return "kms:CallerAccount does not name %s" % account
            elif key not in UNDERSTOOD_CONDITION_KEYS:
                return "%s %s" % (operator, key)
    return None


def key_access(statements, account):
    """For ``account``: (the required actions it lacks, the principals that get them,
    notes on statements left uncounted)."""
    allowed, denied, principals, notes = set(), set(), set(), []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            continue
        matching = principals_in(statement, account)
        if not matching:
            continue
        note = condition_note(statement, account)
        label = statement.get("Sid") or "statement %d" % (index + 1)
        concrete = [action for actions in REQUIRED_KEY_ACTIONS.values() for action in actions
                    if covers(statement, action)]
        if not concrete:
            continue
        if note:
            notes.append("%s (condition %s)" % (label, note))
            continue
        if statement.get("Effect") == "Deny":
            denied.update(concrete)
        elif statement.get("Effect") == "Allow":
            allowed.update(concrete)
            principals.update(matching)
    missing = [name for name, actions in REQUIRED_KEY_ACTIONS.items()
               if any(action not in allowed or action in denied for action in actions)]
    return missing, principals, notes


def main():
    argument_spec = dict(
        side=dict(type="str", required=True, choices=["production", "acceptance"]),
        expected_account_id=dict(type="str"),
        setting_names=dict(type="dict", default={}),
        cluster_identifier=dict(type="str"),
        kms_key_id=dict(type="str"),
        share_account_ids=dict(type="list", elements="str", default=[]),
        source_account_id=dict(type="str"),
        source_cluster_identifier=dict(type="str"),
        canonical_identifier=dict(type="str"),
        latest_parameter=dict(type="str", default="/dbops/acceptance/snapshot/latest"),
        current_parameter=dict(type="str", default="/dbops/acceptance/snapshot/current"),
        lock_parameter=dict(type="str", default="/dbops/acceptance/refresh/lock"),
        # An ARN and an SSM path, not secrets: the module reads the secret itself.
        secret_arn=dict(type="str", no_log=False),
        secret_arn_parameter=dict(type="str", no_log=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    preflight = Preflight(module)
    findings = preflight.run()
    failed = [item["check"] for item in findings if not item["ok"]]
    module.exit_json(changed=False, findings=findings, failed_checks=failed, ok=not failed,
                     account_id=preflight.account_id, caller_arn=preflight.caller_arn,
                     canonical_cluster=preflight.canonical_cluster)


if __name__ == "__main__":
    main()
