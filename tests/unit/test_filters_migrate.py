"""The migrate filters: the plan's line, the report and its lines."""

from conftest import import_collection_plugin

migrate = import_collection_plugin("plugins.filter.migrate")

PLAN = {"action": "replace", "tables": ["public.customers", "sales.orders"], "digest": "abc",
        "source": {"label": "old:5432/shop", "estimated_rows": 25000, "bytes": 3 * 1048576},
        "target": {"label": "new:5432/shop"}}
MARKS = {"started": 100.0, "planned": 101.5, "dumped": 111.5, "restored": 131.5, "verified": 133.0}
CHECK = {"tables": [{"table": "public.customers", "source_rows": 5000, "target_rows": 5000},
                    {"table": "sales.orders", "source_rows": 20000, "target_rows": 20000}],
         "sequences": {"public.customers_id_seq": {"source": 5000, "target": 5000}}, "problems": []}


def test_the_plan_line_says_what_where_and_how():
    assert migrate.migrate_plan_summary(PLAN, "all", True) == (
        "Would migrate schema and data of 2 table(s), about 25000 rows and 3.0 MB, from old:5432/shop to "
        "new:5432/shop over what the target holds (its objects of the same names are replaced)")
    assert migrate.migrate_plan_summary(dict(PLAN, action="resume"), "data").startswith("Migrating the data of 2")


def test_the_report_times_each_phase_from_the_marks():
    report = migrate.migrate_report(PLAN, section="all", marks=MARKS,
                                    dump={"progress": {"bytes": 10 * 1048576}, "seconds": 8.5},
                                    restore={"seconds": 18.0}, check=CHECK, leftover={"stopped": ["restore"]})
    assert report["command_seconds"] == {"dump": 8.5, "restore": 18.0}
    assert report["seconds"] == {"plan": 1.5, "dump": 10.0, "restore": 20.0, "verify": 1.5, "total": 33.0}
    assert report["tables"] == CHECK["tables"] and report["sequences"] == 1
    assert report["stopped_leftovers"] == ["restore"] and report["action"] == "replace"
    lines = migrate.migrate_report_lines(report)
    assert lines[0] == "old:5432/shop -> new:5432/shop (replace, all): 2 table(s), verified"
    assert lines[1] == "seconds: plan 1.5, dump 10.0, restore 20.0, verify 1.5, total 33.0"
    assert lines[2] == ("moved 3.0 MB (the source database) in 30.0 s of dump and restore, 0.1 MB/s; the dump "
                        "took 10.0 MB on the runner")
    assert lines[4] == "sales.orders: 20000 rows (source 20000)"


def test_a_report_before_the_comparison_lists_the_planned_tables_and_no_times():
    report = migrate.migrate_report(PLAN, marks={"started": 1.0, "planned": 2.0})
    assert report["tables"] == [{"table": "public.customers"}, {"table": "sales.orders"}]
    assert report["seconds"]["dump"] is None and report["seconds"]["plan"] == 1.0
    assert migrate.migrate_report_lines(report)[1] == "seconds: plan 1.0"
