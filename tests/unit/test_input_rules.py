"""The named input rules behind the roles' first checks (filter dbops.aurora.input_problems)."""

import pytest

from conftest import import_collection_plugin

inputs = import_collection_plugin("plugins.filter.inputs")


@pytest.mark.parametrize("value, rule", [
    ("app-acc", "rds_identifier"), ("a" * 41, "rds_identifier max 41"), ("111111111111", "account_id"),
    ("/a/b", "ssm_path"), ("", "optional ssm_path"), (None, "optional secret_arn"),
    (["sg-0123456789abcdef0"], "each security_group_id"), ([], "optional each account_id"),
    (5, "int 1..15"), ("5", "int >=1"), (0.5, "number >0"), (2.5, "half steps"),
    ("sun:02:00-sun:06:00", "window"), ("02:00-06:00", "window"), ("present", "one of present|absent"),
    ("alias/app", "kms_key"), ("arn:aws:kms:eu-west-1:222222222222:key/abc-def", "kms_key"),
    ("rds:app-prod-2026-12-01-02-00", "snapshot"),
    ("app/acceptance/db-credentials", "secret_ref"),
    ("arn:aws:secretsmanager:eu-west-1:222222222222:secret:app/acc-AbCdEf", "secret_ref"),
])
def test_good_values_pass(value, rule):
    assert inputs.input_problems([["field", value, rule]]) == []


@pytest.mark.parametrize("value, rule, says", [
    ("bad--id", "rds_identifier", "two consecutive hyphens"),
    ("a" * 42, "rds_identifier max 41", "at most 41"),
    ("1111", "account_id", "12-digit"),
    ("no-slash", "ssm_path", "SSM parameter path"),
    (["sg-0123456789abcdef0", "default"], "each security_group_id", "item 'default'"),
    ("many", "int 1..15", "whole number"),
    (16, "int 1..15", "1 to 15"),
    (0, "number >0", "more than 0"),
    (2.3, "half steps", "multiple of 0.5"),
    ("someday", "window", "UTC window"),
    ("gone", "one of present|absent", "one of present, absent"),
    ("*", "iam_principal_arn", "never a wildcard"),
    ("a..b", "bucket", "S3 bucket"),
    ("not a secret!", "secret_ref", "ARN or name"),
    ("app/acceptance/db-credentials", "secret_arn", "secret ARN"),
])
def test_bad_values_name_the_field_and_the_rule(value, rule, says):
    problems = inputs.input_problems([["the_field", value, rule], ["other", "app", "rds_identifier"]])
    assert len(problems) == 1 and problems[0].startswith("the_field: got ")
    assert says in problems[0], problems


def test_an_unknown_rule_is_a_programming_error():
    with pytest.raises(Exception, match="unknown input rule"):
        inputs.input_problems([["field", "x", "no such rule"]])
