"""The masking filters: the guard's message and the report's lines."""

from conftest import import_collection_plugin

masking = import_collection_plugin("plugins.filter.masking")

CHECK = {
    "ok": False,
    "unruled": [{"table": "public.orders", "column": "shipping_address", "reason": "its name"}],
    "unproven": [{"table": "public.customers", "column": "email", "strategy": "email", "rows_not_masked": 3}],
}


def test_the_message_names_every_finding_and_no_value():
    message = masking.masking_problems(CHECK, "app-acceptance-r1")
    assert message == (
        "Masking guard on app-acceptance-r1: no masking rule for public.orders.shipping_address "
        "(its name) (add a rule, or list it in refresh_masking_safe_columns); rules that did not "
        "hold: public.customers.email (email: 3 rows not masked).")
    assert masking.masking_problems({"ok": True, "unruled": [], "unproven": []}) == "Masking guard passed"


def test_the_report_keeps_method_rows_and_seconds_or_why_skipped():
    tables = [{"table": "public.customers", "method": "rewrite", "rows": 10, "seconds": 0.5,
               "skipped": False, "why": "x", "columns": {}},
              {"table": "public.orders", "method": "update", "skipped": True,
               "skipped_why": "already masked by these rules"}]
    assert masking.masking_report(tables) == [
        {"table": "public.customers", "method": "rewrite", "rows": 10, "seconds": 0.5},
        {"table": "public.orders", "method": "update", "skipped": "already masked by these rules"}]
    assert masking.masking_report(None) == []


def test_the_guard_line_says_whether_it_ran():
    assert masking.masking_guard_report({"skipped": True}) == {"ran": False}
    assert masking.masking_guard_report(CHECK) == {"ran": True, "ok": False, "unruled": 1, "unproven": 1}
