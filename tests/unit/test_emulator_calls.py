"""The emulator's call log: each AWS call by account and IAM action, and what IAM denied.

The IAM molecule scenario (extensions/molecule/iam) proves the shipped policies with it, so these
tests pin down what it records: the service from the SigV4 credential scope, the account moto
maps the access key to, and a 403 from moto's IAM enforcement as a denial."""

import json
import urllib.request

import botocore.exceptions
import pytest

from conftest import ACCEPTANCE, PRODUCTION

POLICY_NAME = "test-emulator-calls"


def reset_auth(emulator, allowed_calls):
    """moto's switch: enforce IAM after ``allowed_calls`` more calls ("inf": never)."""
    request = urllib.request.Request(emulator.url + "/moto-api/reset-auth",
                                     data=str(allowed_calls).encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(name="enforced")
def fixture_enforced(emulator):
    """IAM enforced for the test; off again afterwards, and the test's inline policy removed."""
    iam = emulator.client("iam", "acceptance")
    reset_auth(emulator, 0)
    try:
        yield iam
    finally:
        reset_auth(emulator, "inf")
        if POLICY_NAME in iam.list_user_policies(UserName="dbops-acceptance")["PolicyNames"]:
            iam.delete_user_policy(UserName="dbops-acceptance", PolicyName=POLICY_NAME)


def test_calls_are_logged_by_account_and_iam_action(emulator):
    emulator.control("calls?reset=1")
    emulator.client("rds", "acceptance").describe_db_clusters()
    emulator.client("ssm", "acceptance").describe_parameters()
    emulator.client("kms", "production").list_aliases()
    emulator.client("sts", "production").get_caller_identity()

    calls = emulator.control("calls")

    # What tests and benchmarks already read is unchanged: counts by API action.
    assert calls["calls"] == {"DescribeDBClusters": 1, "DescribeParameters": 1,
                              "ListAliases": 1, "GetCallerIdentity": 1}
    assert calls["total"] == 4
    assert calls["accounts"] == {
        ACCEPTANCE: {"rds:DescribeDBClusters": 1, "ssm:DescribeParameters": 1},
        PRODUCTION: {"kms:ListAliases": 1, "sts:GetCallerIdentity": 1},
    }
    assert calls["denied"] == {}


def test_reset_clears_the_log_and_moto_api_calls_are_not_aws_calls(emulator):
    emulator.client("rds", "acceptance").describe_db_clusters()
    emulator.control("calls?reset=1")
    reset_auth(emulator, "inf")  # passes through to moto, changes nothing here

    assert emulator.control("calls") == {"total": 0, "calls": {}, "accounts": {}, "denied": {}}


def test_calls_denied_by_iam_enforcement_are_logged(emulator, enforced):
    emulator.control("calls?reset=1")
    rds = emulator.client("rds", "acceptance")

    with pytest.raises(botocore.exceptions.ClientError) as denied:
        rds.describe_db_clusters()

    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "rds:DescribeDBClusters" in denied.value.response["Error"]["Message"]
    # Unscoped by moto and always allowed, as in AWS.
    emulator.client("sts", "acceptance").get_caller_identity()
    calls = emulator.control("calls")
    assert calls["denied"] == {ACCEPTANCE: {"rds:DescribeDBClusters": 1}}
    assert calls["accounts"] == {ACCEPTANCE: {"rds:DescribeDBClusters": 1,
                                              "sts:GetCallerIdentity": 1}}

    # Allowed once the user's policy names the action (moto checks actions, not resources).
    reset_auth(emulator, 1)  # the one call that attaches the policy goes unchecked
    enforced.put_user_policy(UserName="dbops-acceptance", PolicyName=POLICY_NAME,
                             PolicyDocument=json.dumps({
                                 "Version": "2012-10-17",
                                 "Statement": [{"Effect": "Allow",
                                                "Action": ["rds:DescribeDBClusters"],
                                                "Resource": "*"}]}))
    emulator.control("calls?reset=1")

    rds.describe_db_clusters()
    with pytest.raises(botocore.exceptions.ClientError):
        emulator.client("ssm", "acceptance").describe_parameters()

    calls = emulator.control("calls")
    assert calls["accounts"] == {ACCEPTANCE: {"rds:DescribeDBClusters": 1,
                                              "ssm:DescribeParameters": 1}}
    assert calls["denied"] == {ACCEPTANCE: {"ssm:DescribeParameters": 1}}


def test_s3_calls_are_logged_by_the_iam_action_aws_checks(emulator):
    s3 = emulator.client("s3", "acceptance")
    bucket = "test-emulator-calls-222222222222"
    emulator.control("calls?reset=1")

    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.get_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/file.sql", Body=b"SELECT 1")
    s3.put_object(Bucket=bucket, Key="dir/other.sql", Body=b"SELECT 2")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    s3.delete_object(Bucket=bucket, Key="dir/file.sql")
    # What emptying a bucket does (amazon.aws.s3_bucket force): DeleteObjects naming versions.
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions if v["Key"] == "dir/other.sql"]})
    s3.delete_bucket(Bucket=bucket)

    assert emulator.control("calls")["accounts"] == {ACCEPTANCE: {
        "s3:CreateBucket": 1, "s3:PutEncryptionConfiguration": 1, "s3:PutBucketPublicAccessBlock": 1,
        "s3:GetBucketPublicAccessBlock": 1, "s3:PutObject": 2, "s3:ListBucketVersions": 1,
        "s3:DeleteObject": 1, "s3:DeleteObjectVersion": 1, "s3:DeleteBucket": 1}}
