"""Maintenance window and refresh id filters (pure functions, no AWS)."""

import pytest
from ansible.errors import AnsibleFilterError

from conftest import import_collection_plugin

refresh = import_collection_plugin("plugins.filter.refresh")


@pytest.mark.parametrize("window, now, expected", [
    ("sun:02:00-sun:06:00", "2026-11-22T02:00:00Z", True),    # a Sunday, start is inside
    ("sun:02:00-sun:06:00", "2026-11-22T05:59:00+00:00", True),
    ("sun:02:00-sun:06:00", "2026-11-22T06:00:00Z", False),   # end is outside
    ("sun:02:00-sun:06:00", "2026-11-23T03:00:00Z", False),   # Monday
    ("sun:23:00-mon:01:00", "2026-11-23T00:30:00Z", True),    # wraps past the week's end
    ("sun:23:00-mon:01:00", "2026-11-22T22:59:00Z", False),
    ("22:00-04:00", "2026-11-24T23:10:00Z", True),            # daily, wraps midnight
    ("22:00-04:00", "2026-11-24T04:00:00Z", False),
    ("02:00-06:00", "2026-11-24T04:00:00+02:00", True),       # 02:00 UTC
])
def test_in_maintenance_window(window, now, expected):
    assert refresh.in_maintenance_window(window, now) is expected


@pytest.mark.parametrize("window", ["sunday 2-6", "sun:25:00-sun:06:00", "xyz:02:00-sun:06:00",
                                    "", "02:00"])
def test_bad_window_is_refused_with_the_expected_format(window):
    with pytest.raises(AnsibleFilterError, match="sun:02:00-sun:06:00"):
        refresh.in_maintenance_window(window, "2026-11-22T02:00:00Z")


def test_refresh_id_is_stable_and_distinct():
    arn = "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:app-prod-1"
    assert refresh.refresh_id(arn) == refresh.refresh_id(arn)
    assert refresh.refresh_id(arn) != refresh.refresh_id(arn + "0")
    assert len(refresh.refresh_id(arn)) == 9 and refresh.refresh_id(arn).startswith("r")
    with pytest.raises(AnsibleFilterError):
        refresh.refresh_id("")


def test_failed_checks_names_every_check_that_did_not_answer_ok_true():
    results = [
        {"item": {"name": "rows"}, "query_result": [{"ok": True}]},
        {"item": {"name": "masked"}, "query_result": [{"ok": False}]},
        {"item": {"name": "empty"}, "query_result": []},
        {"item": {"name": "no ok column"}, "query_result": [{"count": 3}]},
        {"item": {"name": "query failed"}, "failed": True},
    ]
    assert refresh.failed_checks(results) == ["masked", "empty", "no ok column", "query failed"]
    assert refresh.failed_checks([]) == [] and refresh.failed_checks(None) == []


def test_step_durations_are_measured_from_the_step_before_and_skip_steps_not_reached():
    marks = {"started": 100.0, "promoted": 103.5, "copied": "104.25", "swapped": 110.0}
    steps = ["promoted", "copied", "restored", "swapped"]
    assert refresh.step_durations(marks, steps, 112.0) == {
        "promoted": 3.5, "copied": 0.75, "swapped": 5.75, "total": 12.0}
    with pytest.raises(AnsibleFilterError, match="numeric 'started'"):
        refresh.step_durations({"promoted": 1}, steps, 2)


def test_sanitised_names_and_the_pattern_that_selects_them():
    import re  # pylint: disable=import-outside-toplevel
    assert refresh.sanitize_cluster_name("app-prod") == "app-prod-sanitize"
    raw = "app-prod-20261202-0200"
    sanitized = refresh.sanitized_snapshot_name(raw)
    assert sanitized == "app-prod-20261202-0200-sanitized"
    pattern = refresh.sanitized_snapshot_pattern()
    assert re.search(pattern, sanitized) and re.search(pattern, sanitized + "-shareable")
    assert not re.search(pattern, raw) and not re.search(pattern, raw + "-shareable")
    assert not re.search(pattern, "app-prod-sanitized-20261202")
