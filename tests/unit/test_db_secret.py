"""db_secret: the password is generated once, never returned, never regenerated."""

import json
import uuid

import pytest

FORBIDDEN = set('"@/\\ ')


def secret_name():
    return "/dbops/test/%s/master" % uuid.uuid4().hex[:8]


def value_of(emulator, name):
    client = emulator.client("secretsmanager")
    return json.loads(client.get_secret_value(SecretId=name)["SecretString"])


def test_creates_with_generated_password_and_never_returns_it(emulator, run_module):
    name = secret_name()
    result = run_module("db_secret", {"name": name, "engine": "postgres", "dbname": "app",
                                      "tags": {"environment": "acceptance"}})
    assert result.changed and result["created"] and result["password_generated"]
    value = value_of(emulator, name)
    assert sorted(value) == ["dbname", "engine", "password", "username"]
    assert value["username"] == "dbadmin"
    assert len(value["password"]) == 40
    assert not FORBIDDEN & set(value["password"])
    assert value["password"] not in json.dumps(result)
    assert result["tags"] == {"environment": "acceptance"}
    assert result["arn"].startswith("arn:aws:secretsmanager:eu-west-1:222222222222:secret:")


def test_rerun_keeps_password_and_merges_connection_fields(emulator, run_module):
    name = secret_name()
    run_module("db_secret", {"name": name, "engine": "postgres"})
    before = value_of(emulator, name)

    again = run_module("db_secret", {"name": name, "engine": "postgres"})
    assert not again.changed and not again["password_generated"]

    fields = {"name": name, "engine": "postgres", "host": "127.0.0.1", "port": 5999,
              "dbname": "app", "db_cluster_identifier": "app-acceptance"}
    check = run_module("db_secret", fields, check_mode=True, diff=True)
    assert check.changed
    assert check["diff"]["after"]["password"] == "********"
    assert before["password"] not in json.dumps(check)
    assert value_of(emulator, name) == before

    merged = run_module("db_secret", fields)
    assert merged.changed and not merged["password_generated"]
    after = value_of(emulator, name)
    assert after["password"] == before["password"]
    assert after["port"] == 5999 and after["host"] == "127.0.0.1"
    assert after["dbClusterIdentifier"] == "app-acceptance"
    assert merged["keys"] == sorted(["username", "password", "engine", "host", "port", "dbname",
                                     "dbClusterIdentifier"])
    assert not run_module("db_secret", fields).changed


def test_tags_description_and_check_mode_create(emulator, run_module):
    name = secret_name()
    planned = run_module("db_secret", {"name": name}, check_mode=True)
    assert planned.changed and planned["arn"] is None
    client = emulator.client("secretsmanager")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId=name)

    run_module("db_secret", {"name": name, "description": "one", "tags": {"a": "1"}})
    changed = run_module("db_secret", {"name": name, "description": "two", "tags": {"b": "2"}})
    assert changed.changed and changed["tags"] == {"b": "2"}
    assert client.describe_secret(SecretId=name)["Description"] == "two"


def test_absent_with_recovery_window_then_restore_keeps_password(emulator, run_module):
    name = secret_name()
    run_module("db_secret", {"name": name})
    password = value_of(emulator, name)["password"]

    deleted = run_module("db_secret", {"name": name, "state": "absent", "recovery_window_days": 7})
    assert deleted.changed and deleted["deletion_date"]
    assert not run_module("db_secret", {"name": name, "state": "absent"}).changed

    restored = run_module("db_secret", {"name": name})
    assert restored.changed and restored["restored"] and not restored["password_generated"]
    assert value_of(emulator, name)["password"] == password

    gone = run_module("db_secret", {"name": name, "state": "absent", "recovery_window_days": 0})
    assert gone.changed
    client = emulator.client("secretsmanager")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId=name)


def test_refuses_a_value_that_is_not_json(emulator, run_module):
    name = secret_name()
    emulator.client("secretsmanager").create_secret(Name=name, SecretString="plain text")
    result = run_module("db_secret", {"name": name})
    assert result.failed and "refusing to overwrite" in result["msg"]


@pytest.mark.parametrize("args, field", [
    ({"recovery_window_days": 3}, "recovery_window_days"),
    ({"username": "1admin"}, "username"),
    ({"password_length": 200}, "password_length"),
    ({"rotation_lambda_arn": "arn:aws:lambda:eu-west-1:222222222222:function:rotate"},
     "rotation_days"),
    # Each of these used to create the secret first and fail (or pass) afterwards.
    ({"rotation_lambda_arn": "arn:aws:lambda:eu-west-1:function:rotate", "rotation_days": 30},
     "rotation_lambda_arn"),
    ({"host": "https://app.cluster-x.eu-west-1.rds.amazonaws.com:5432"}, "host"),
    ({"host": "app..cluster"}, "host"),
    ({"db_cluster_identifier": "app--acceptance"}, "db_cluster_identifier"),
])
def test_bad_input_fails_before_any_call(emulator, run_module, args, field):
    name = secret_name()
    result = run_module("db_secret", dict({"name": name}, **args))
    assert result.failed and field in result["msg"] and result["invalid_fields"] == [field]
    client = emulator.client("secretsmanager")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId=name)


def test_rotation_is_planned_in_check_mode(emulator, run_module):
    # moto invokes the rotation Lambda (it needs Docker), so only the plan is checked here.
    name = secret_name()
    run_module("db_secret", {"name": name})
    planned = run_module("db_secret", {
        "name": name, "rotation_days": 30,
        "rotation_lambda_arn": "arn:aws:lambda:eu-west-1:222222222222:function:rotate"},
        check_mode=True)
    assert planned.changed
    assert not run_module("db_secret", {"name": name, "rotation_lambda_arn": ""}).changed


def test_updates_by_arn_and_refuses_to_create_by_arn(emulator, run_module):
    name = secret_name()
    created = run_module("db_secret", {"name": name})
    by_arn = run_module("db_secret", {"name": created["arn"], "host": "127.0.0.1", "port": 6001})
    assert by_arn.changed and not by_arn["password_generated"]
    assert value_of(emulator, name)["port"] == 6001

    missing = created["arn"].replace(name, secret_name())
    result = run_module("db_secret", {"name": missing, "port": 6001})
    assert result.failed and "not by ARN" in result["msg"]


def test_an_update_without_username_keeps_the_user_name(emulator, run_module):
    name = secret_name()
    run_module("db_secret", {"name": name, "username": "dbmaster"})
    updated = run_module("db_secret", {"name": name, "host": "127.0.0.1"})
    assert updated.changed
    assert value_of(emulator, name)["username"] == "dbmaster"
