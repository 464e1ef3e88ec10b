"""KMS gaps in moto 5 that amazon.aws.kms_key runs into.

- AWS: ScheduleKeyDeletion, CancelKeyDeletion, EnableKey and DisableKey accept a key ARN as
  well as a key id.  Moto 5 indexes its keys by id only and answers an ARN with HTTP 500
  (KeyError); amazon.aws.kms_key always passes the ARN, so ``state: absent`` failed.
"""

from moto.kms.models import KmsBackend

_PATCHED = ("schedule_key_deletion", "cancel_key_deletion", "enable_key", "disable_key")


def _accepting_arn(original):
    def method(self, key_id, *args, **kwargs):
        return original(self, self.get_key_id(key_id), *args, **kwargs)
    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    return method


def install():
    for name in _PATCHED:
        original = getattr(KmsBackend, name)
        if not getattr(original, "_dbops_accepts_arn", False):
            patched = _accepting_arn(original)
            patched._dbops_accepts_arn = True
            setattr(KmsBackend, name, patched)
