"""KMS gaps in moto 5 that amazon.aws.kms_key and cross-account cloning run into.

- AWS: ScheduleKeyDeletion, CancelKeyDeletion, EnableKey and DisableKey accept a key ARN as
  well as a key id.  Moto 5 indexes its keys by id only and answers an ARN with HTTP 500
  (KeyError); amazon.aws.kms_key always passes the ARN, so ``state: absent`` failed.
- AWS: DescribeKey with the ARN of another account's key answers when that key is
  customer-managed and its key policy allows the caller's account kms:DescribeKey (Principal
  ``arn:aws:iam::ACCOUNT:root``, the bare account id or ``*``); an AWS-managed key (``aws/...``)
  or a policy not granting the caller gives AccessDeniedException.  Moto looks the ARN's key
  id up in the caller's own account.
"""

import fnmatch
import json

from moto.core.exceptions import JsonRESTError
from moto.kms.exceptions import NotFoundException
from moto.kms.models import KmsBackend, kms_backends
from moto.kms.responses import KmsResponse

_PATCHED = ("schedule_key_deletion", "cancel_key_deletion", "enable_key", "disable_key")


def _accepting_arn(original):
    def method(self, key_id, *args, **kwargs):
        return original(self, self.get_key_id(key_id), *args, **kwargs)
    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    return method


class AccessDenied(JsonRESTError):
    """moto's own AccessDeniedException drops its message."""

    code = 400

    def __init__(self, message):
        super().__init__("AccessDeniedException", message)


def _key_arn_parts(key_id):
    """(region, account) of a key ARN, or None for anything else (id, alias)."""
    parts = (key_id or "").split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[5].startswith("key/"):
        return parts[3], parts[4]
    return None


def find_key(key_arn):
    """The key a key ARN names, in its owner's account and region, or None."""
    parts = _key_arn_parts(key_arn)
    if parts is None:
        return None
    backend = kms_backends[parts[1]].get(parts[0])
    return backend.keys.get(KmsBackend.get_key_id(key_arn)) if backend is not None else None


def is_aws_managed(key):
    """AWS-managed keys (alias aws/...) are never usable by another account."""
    return key.key_manager == "AWS" or any(alias.startswith("alias/aws/") for alias in key.aliases)


def _listed(value):
    return value if isinstance(value, list) else [value]


def _names_account(principal, account_id):
    if principal == "*":
        return True
    names = _listed(principal.get("AWS", [])) if isinstance(principal, dict) else []
    return any(name in ("*", account_id, "arn:aws:iam::%s:root" % account_id) for name in names)


def key_policy_allows(key, account_id, action):
    """Whether the key policy grants ``account_id`` ``action`` (conditions are not evaluated:
    the emulator's callers are AWS services on the account's behalf)."""
    try:
        statements = _listed(json.loads(key.policy or "{}").get("Statement", []))
    except ValueError:
        return False
    verdicts = {statement.get("Effect") for statement in statements
                if _names_account(statement.get("Principal", {}), account_id)
                and any(fnmatch.fnmatchcase(action, pattern)
                        for pattern in _listed(statement.get("Action", [])))}
    return "Allow" in verdicts and "Deny" not in verdicts


_original_describe_key = KmsResponse.describe_key


def describe_key(self):
    key_id = self._get_param("KeyId")
    parts = _key_arn_parts(key_id)
    if parts is None or parts[1] == self.current_account:
        return _original_describe_key(self)
    key = find_key(key_id)
    if key is None:
        raise NotFoundException("Key '%s' does not exist" % key_id)
    if is_aws_managed(key) or not key_policy_allows(key, self.current_account,
                                                    "kms:DescribeKey"):
        raise AccessDenied("User in account %s is not authorized to perform: kms:DescribeKey on "
                           "resource: %s because no resource-based policy allows the "
                           "kms:DescribeKey action" % (self.current_account, key_id))
    return json.dumps(key.to_dict())


def install():
    KmsResponse.describe_key = describe_key
    for name in _PATCHED:
        original = getattr(KmsBackend, name)
        if not getattr(original, "_dbops_accepts_arn", False):
            patched = _accepting_arn(original)
            patched._dbops_accepts_arn = True
            setattr(KmsBackend, name, patched)
