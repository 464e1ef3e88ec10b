"""dbops.aurora.ssm_outputs against the emulator: several parameters in one run."""

import uuid

import pytest


@pytest.fixture()
def ssm(emulator):
    return emulator.client("ssm", "acceptance")


@pytest.fixture()
def prefix():
    return "/outputs-%s" % uuid.uuid4().hex[:8]


def values(ssm, names):
    found = {}
    for name in names:
        try:
            found[name] = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            found[name] = None
    return found


def test_writes_what_differs_keeps_tags_and_is_idempotent(ssm, run_module, prefix):
    ssm.put_parameter(Name=prefix + "/endpoint", Value="old.example", Type="String",
                      Description="set by provisioning", Tags=[{"Key": "stage", "Value": "acc"}])
    wanted = {prefix + "/endpoint": "new.example", prefix + "/port": 5432, prefix + "/arn": "arn:x"}

    plan = run_module("ssm_outputs", {"parameters": wanted}, check_mode=True)
    assert not plan.failed and plan.changed, plan
    assert sorted(plan["changed_parameters"]) == sorted(wanted)
    assert values(ssm, wanted)[prefix + "/port"] is None

    result = run_module("ssm_outputs", {"parameters": wanted})
    assert not result.failed and result.changed, result
    assert values(ssm, wanted) == {name: str(value) for name, value in wanted.items()}
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [prefix + "/endpoint"]}])["Parameters"][0]
    assert described["Description"] == "set by provisioning"
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=prefix + "/endpoint")
    assert tags["TagList"] == [{"Key": "stage", "Value": "acc"}]

    again = run_module("ssm_outputs", {"parameters": wanted})
    assert not again.failed and not again.changed
    assert sorted(again["unchanged_parameters"]) == sorted(wanted)


def test_bad_names_or_empty_values_write_nothing(ssm, run_module, prefix):
    for parameters, field in [({"no-slash": "x", prefix + "/a": "x"}, "parameters (names)"),
                              ({prefix + "/a": "", prefix + "/b": "x"}, "parameters (values)")]:
        result = run_module("ssm_outputs", {"parameters": parameters})
        assert result.failed and field in result["msg"], result
    assert values(ssm, [prefix + "/a", prefix + "/b"]) == {prefix + "/a": None, prefix + "/b": None}


def test_new_parameters_under_throttling_and_5xx(ssm, run_module, prefix, settings):
    wanted = {"%s/p%d" % (prefix, index): "v%d" % index for index in range(8)}
    settings(throttle_rate=0.3, error_rate=0.1, seed=11)
    result = run_module("ssm_outputs", {"parameters": wanted})
    settings(throttle_rate=0, error_rate=0)
    assert not result.failed, result
    assert values(ssm, wanted) == wanted
