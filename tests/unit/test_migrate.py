"""Migration into a cluster (plugins/module_utils/_migrate.py, modules migrate_*): the plan and
its refusals, the command lines, the detached jobs, and a real pg_dump/pg_restore between two
databases of a real PostgreSQL server, compared table by table."""

import os
import subprocess
import time
import uuid

import pytest

from conftest import import_collection_plugin

migrate = import_collection_plugin("plugins.module_utils._migrate")

SOURCE_SCHEMA = """
CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, born date);
CREATE INDEX customers_born_idx ON customers (born);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id),
                     total_cents int NOT NULL CHECK (total_cents >= 0));
CREATE TABLE audit_log (id serial PRIMARY KEY, line text);
CREATE SEQUENCE invoice_numbers START 1000;
INSERT INTO customers (email, born) SELECT 'p' || g || '@example.com', date '1980-01-01' + g
FROM generate_series(1, 500) AS g;
INSERT INTO orders (customer_id, total_cents) SELECT 1 + g % 500, g FROM generate_series(1, 1500) AS g;
INSERT INTO audit_log (line) SELECT 'line ' || g FROM generate_series(1, 50) AS g;
SELECT setval('invoice_numbers', 4242);
"""


def side(database):
    return {"host": "127.0.0.1", "port": database.port, "user": database.user, "database": database.name}


@pytest.fixture()
def pair(database, postgres_server, monkeypatch):
    """A source database with data and an empty target database name on the same server."""
    database.run(SOURCE_SCHEMA)
    target_name = "m" + uuid.uuid4().hex[:10]
    monkeypatch.setenv("DBOPS_SOURCE_PASSWORD", database.password)
    monkeypatch.setenv("DBOPS_TARGET_PASSWORD", database.password)
    monkeypatch.setenv("PGPASSWORD", database.password)
    target = dict(side(database), database=target_name)
    yield side(database), target
    connection = postgres_server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % target_name)
    finally:
        connection.close()


# --- pure logic ---------------------------------------------------------------------------

def test_client_major_reads_pg_dump_version():
    assert migrate.client_major("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n") == 15
    assert migrate.client_major("pg_restore (PostgreSQL) 16.4") == 16
    with pytest.raises(migrate.MigrateError):
        migrate.client_major("psql something else")


def test_select_tables_patterns():
    tables = [("public", "customers", 1), ("public", "orders", 2), ("sales", "orders", 3), ("public", "audit_log", 4)]
    assert migrate.select_tables(tables, [], []) == ["public.customers", "public.orders", "sales.orders",
                                                     "public.audit_log"]
    assert migrate.select_tables(tables, ["*.orders"], []) == ["public.orders", "sales.orders"]
    assert migrate.select_tables(tables, [], ["audit_*"]) == ["public.customers", "public.orders", "sales.orders"]
    with pytest.raises(migrate.MigrateError, match="no table of the source matches public.invoices"):
        migrate.select_tables(tables, ["invoices"], [])


def facts(**changes):
    base = dict(source={"label": "src:5432/app", "major": 15}, same_server=False, problems=[],
                clients={"pg_dump": 15, "pg_restore": 15}, tables=["public.customers"],
                target={"label": "tgt:5432/app", "exists": True, "major": 15, "tables": {}, "record": None})
    for key, value in changes.items():
        if key.startswith("target_"):
            base["target"][key[len("target_"):]] = value
        else:
            base[key] = value
    return base


def test_decide_fresh_replace_resume_and_refusals():
    assert migrate.decide(facts(), False, "all") == ("fresh", [])
    action, problems = migrate.decide(facts(target_tables={"public.x": 3}), False, "all")
    assert action == "refuse" and "not empty" in problems[0] and "public.x" in problems[0]
    assert migrate.decide(facts(target_tables={"public.x": 3}), True, "all") == ("replace", [])
    record = {"status": "restoring", "source": "src:5432/app", "finished": None}
    assert migrate.decide(facts(target_tables={"public.customers": 3}, target_record=record), False, "all") \
        == ("resume", [])
    done = dict(record, status="complete", finished="2026-12-05 10:00:00+00")
    action, problems = migrate.decide(facts(target_tables={"public.customers": 3}, target_record=done), False, "all")
    assert action == "refuse" and "migrated from src:5432/app, complete at 2026-12-05" in problems[0]


@pytest.mark.parametrize("change, expected", [
    ({"same_server": True}, "the source and the target are the same database"),
    ({"clients": {"pg_dump": 14, "pg_restore": 14}}, "pg_dump 14 cannot dump a PostgreSQL 15 server"),
    ({"target_major": 14}, "the target runs PostgreSQL 14, older than the source's 15"),
])
def test_decide_refuses_before_any_change(change, expected):
    action, problems = migrate.decide(facts(**change), True, "all")
    assert action == "refuse"
    assert any(expected in p for p in problems), problems


def test_decide_data_only_needs_the_tables_and_empties_only_what_it_loads():
    action, problems = migrate.decide(facts(target_tables={}), False, "data")
    assert action == "refuse" and "missing: public.customers" in problems[0]
    assert migrate.decide(facts(target_tables={"public.customers": 0, "public.other": 9}), False, "data") \
        == ("fresh", [])
    assert migrate.decide(facts(target_tables={"public.customers": 5}), False, "data")[0] == "refuse"
    assert migrate.decide(facts(target_tables={"public.customers": 5}), True, "data") == ("replace", [])


def test_command_lines_quote_tables_and_never_carry_a_password():
    source = {"host": "h", "port": 5432, "user": "u", "database": "d"}
    dump = migrate.dump_argv("pg_dump", source, "/w/dump", 4, "all", ['public.Odd"name'], False, [])
    assert "--format=directory" in dump and "--jobs=4" in dump and "--no-password" in dump
    assert '--table="public"."Odd""name"' in dump
    whole = migrate.dump_argv("pg_dump", source, "/w/dump", 2, "data", [], True, ["public.audit_log"])
    assert "--data-only" in whole and '--exclude-table="public"."audit_log"' in whole
    assert not any(a.startswith("--table=") for a in whole)
    restore = migrate.restore_argv("pg_restore", source, "/w/dump", 4, "all", True, "app_owner")
    assert {"--no-owner", "--no-acl", "--exit-on-error", "--clean", "--if-exists", "--role=app_owner"} <= set(restore)
    data_only = migrate.restore_argv("pg_restore", source, "/w/dump", 4, "data", True, None)
    assert "--clean" not in data_only and "--data-only" in data_only
    assert not any("password=" in a.lower() for a in dump + restore)


def test_jobs_run_detached_report_status_and_are_stopped(tmp_path):
    work = str(tmp_path / "work")
    migrate.make_work_dir(work)
    assert oct(os.stat(work).st_mode & 0o777) == "0o700"
    migrate.start_job(work, "dump", ["sh", "-c", "echo hello; exit 3"], dict(os.environ))
    for dummy in range(100):
        if migrate.job_state(work, "dump")[0] == "finished":
            break
        time.sleep(0.05)
    assert migrate.job_state(work, "dump") == ("finished", 3)
    assert migrate.log_tail(work, "dump") == ["hello"]
    migrate.start_job(work, "restore", ["sleep", "60"], dict(os.environ))
    assert migrate.job_state(work, "restore") == ("running", None)
    pid = int(open(os.path.join(work, "restore.pid")).read().split()[0])
    existed, stopped = migrate.remove_work_dir(work)
    assert existed and stopped == ["restore"]
    assert not os.path.exists(work)
    _pid, status = os.waitpid(pid, 0)  # this test started it, so it reaps it
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 15


# --- the modules on a real server -------------------------------------------------------------

def test_info_plans_a_fresh_migration_and_finds_the_same_database(run_module, pair):
    source, target = pair
    result = run_module("migrate_info", {"source": source, "target": target, "exclude_tables": ["audit_log"]},
                        profile=None)
    assert result["action"] == "fresh", result
    assert result["tables"] == ["public.customers", "public.orders"]
    assert result["dump_excluded"] == ["public.audit_log"] and result["dump_tables"] == []
    assert result["target"]["exists"] is False
    same = run_module("migrate_info", {"source": source, "target": source, "replace": True}, profile=None)
    assert same["action"] == "refuse" and same["same_server"] is True
    missing_role = run_module("migrate_info", {"source": source, "target": target, "owner_role": "nobody_here"},
                              profile=None)
    assert missing_role["action"] == "refuse"
    assert "the owner role nobody_here does not exist on the target" in missing_role["problems"][0]


def test_info_fails_clearly_when_the_source_cannot_be_reached(run_module, pair):
    _source, target = pair
    unreachable = dict(target, port=1, connect_timeout=2)
    result = run_module("migrate_info", {"source": unreachable, "target": target}, profile=None)
    assert result.get("failed") and "cannot reach the source 127.0.0.1:1/" in result["msg"]


def transfer(run_module, step, work, side_, **extra):
    args = dict({"step": step, "work_dir": work, "side": side_, "jobs": 2, "poll_interval": 0.2}, **extra)
    result = run_module("migrate_transfer", args, profile=None)
    assert result.get("complete"), result
    return result


def test_dump_restore_verify_and_the_record(run_module, pair, tmp_path):
    source, target = pair
    plan = run_module("migrate_info", {"source": source, "target": target}, profile=None)
    assert plan["action"] == "fresh"
    started = run_module("migrate_target", {"target": target, "state": "started", "source_label": "src",
                                            "digest": plan["digest"]}, profile=None)
    assert started["created_database"] is True
    # Killed here: the record says restoring, so the next plan redoes the work.
    assert run_module("migrate_info", {"source": source, "target": target}, profile=None)["action"] == "resume"
    work = str(tmp_path / "work")
    dump = transfer(run_module, "dump", work, source, expected_tables=len(plan["tables"]))
    assert dump["progress"]["done"] == 3 and dump["progress"]["bytes"] > 0
    assert oct(os.stat(work).st_mode & 0o777) == "0o700"
    restore = transfer(run_module, "restore", work, target)
    assert restore["progress"] == {"done": 3, "total": 3, "bytes": 0}
    check = run_module("migrate_verify", {"source": source, "target": target, "tables": plan["tables"]},
                       profile=None)
    assert check["problems"] == [], check
    assert {t["table"]: t["target_rows"] for t in check["tables"]} == {
        "public.audit_log": 50, "public.customers": 500, "public.orders": 1500}
    assert check["sequences"]["public.invoice_numbers"] == {"source": 4242, "target": 4242}
    run_module("migrate_target", {"target": target, "state": "finished", "report": {"ok": True}}, profile=None)
    again = run_module("migrate_info", {"source": source, "target": target}, profile=None)
    assert again["action"] == "refuse" and "complete at" in again["problems"][0]
    removed = run_module("migrate_transfer", {"state": "absent", "work_dir": work}, profile=None)
    assert removed["changed"] and not os.path.exists(work)


def test_verify_catches_a_missing_row_a_lagging_sequence_and_a_lost_index(run_module, pair, tmp_path):
    source, target = pair
    plan = run_module("migrate_info", {"source": source, "target": target}, profile=None)
    run_module("migrate_target", {"target": target, "state": "started"}, profile=None)
    work = str(tmp_path / "work")
    transfer(run_module, "dump", work, source)
    transfer(run_module, "restore", work, target)
    env = dict(os.environ)
    statements = ("DELETE FROM orders WHERE id = 7; SELECT setval('invoice_numbers', 1001); "
                  "DROP INDEX customers_born_idx;")
    subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(target["port"]), "-U", target["user"], "-d",
                    target["database"], "-v", "ON_ERROR_STOP=1", "-c", statements], env=env, check=True,
                   capture_output=True)
    check = run_module("migrate_verify", {"source": source, "target": target, "tables": plan["tables"]},
                       profile=None)
    problems = " | ".join(check["problems"])
    assert "public.orders holds 1499 rows on the target, 1500 on the source" in problems
    assert "sequence public.invoice_numbers is at 1001 on the target, behind the source's 4242" in problems
    assert "public.customers lacks indexes on the target: customers_born_idx" in problems


def test_a_failing_restore_reports_its_output_and_starts_again_next_time(run_module, pair, tmp_path):
    source, target = pair
    work = str(tmp_path / "work")
    transfer(run_module, "dump", work, source)
    # The target database does not exist yet: pg_restore fails, the module says why.
    failed = run_module("migrate_transfer", {"step": "restore", "work_dir": work, "side": target,
                                             "poll_interval": 0.2}, profile=None)
    assert failed.get("failed") and "pg_restore failed (exit 1)" in failed["msg"]
    assert "does not exist" in failed["msg"]
    assert migrate.job_state(work, "restore") == ("none", None)
