"""KMS behaviour the emulator adds to moto (tests/emulator/aws_emulator/kms.py)."""

import boto3


def test_schedule_and_cancel_key_deletion_by_arn(emulator):  # pylint: disable=unused-argument
    """AWS: ScheduleKeyDeletion/CancelKeyDeletion accept the key ARN (moto gap: HTTP 500)."""
    kms = boto3.Session(profile_name="production").client("kms")
    arn = kms.create_key(Description="arn deletion")["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=arn)
    answer = kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert answer["KeyId"].endswith(arn.split("/")[-1])
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"
