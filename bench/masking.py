#!/usr/bin/env python
"""Benchmark: masking N customers (1,000,000 by default) on a real PostgreSQL server.

Starts its own PostgreSQL server (as the stand-in does, stopped by PID at the end), fills a
template database once with the sample application's customers at scale (and an unlinked copy,
visitors, for the parallel case), then times, each on a fresh copy of the template:

  plain-update   the baseline: one hand-written UPDATE of the three columns, no keyed hash
                 (what playbooks/files/sanitize_customers.sql did before the rules)
  plain-rewrite  the same expressions as rules (fake_from_id, sql), by the collection's rewrite:
                 the method against the baseline, the work being equal
  update         the collection's update method (one compiled UPDATE, keyed hash strategies)
  rewrite        the collection's rewrite method (masked copy, indexes and constraints rebuilt)
  module         the refresh's own path: ansible-playbook running dbops.aurora.mask with the
                 refresh's defaults (auto: rewrite from 500,000 rows), Ansible's start included
  two-serial     customers and visitors, rewrite, parallel 1
  two-parallel   the same, parallel 2 (each on its own connection)

Prints seconds, rows/s and the ratios; the targets are the rewrite at least 2.5x faster than an
UPDATE of the same expressions, and two tables in parallel near one table, not the sum.  Results also go to
bench/results/.

    .venv/bin/python bench/masking.py [--rows 1000000] [--runs 1]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=wrong-import-position
from refresh import ROOT, write_results  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
from aws_emulator import postgres  # noqa: E402

import importlib.util  # noqa: E402

_SPEC = importlib.util.spec_from_file_location(
    "dbops_masking", os.path.join(ROOT, "plugins", "module_utils", "_masking.py"))
masking = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(masking)

USER, PASSWORD, SALT = "dbadmin", "bench-password", "bench-masking-key"
RULES = [{"table": "customers", "columns": {"email": "email", "full_name": "full_name", "phone": "phone"}}]
# The baseline's own expressions written as rules: the same work, by the collection's rewrite.
PLAIN_RULES = [{"table": "customers", "columns": {
    "email": {"strategy": "fake_from_id", "template": "customer{id}@masked.invalid"},
    "full_name": {"strategy": "fake_from_id", "template": "Customer {id}"},
    "phone": {"strategy": "sql", "expression":
              "CASE WHEN phone IS NULL THEN NULL ELSE '+00 000 ' || lpad((id % 1000000)::text, 6, '0') END"}}}]
BOTH = RULES + [{"table": "visitors", "columns": {"email": "email", "full_name": "full_name", "phone": "phone"}}]
PLAIN_UPDATE = """UPDATE public.customers
SET email = 'customer' || id || '@masked.invalid',
    full_name = 'Customer ' || id,
    phone = CASE WHEN phone IS NULL THEN NULL ELSE '+00 000 ' || lpad((id % 1000000)::text, 6, '0') END"""


def fill_template(server, rows):
    """The sample schema and seed (playbooks/files), customers at ``rows``, visitors a copy."""
    connection = server.connect()
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE template_masking OWNER %s" % USER)
    connection.close()
    connection = server.connect("template_masking")
    with open(os.path.join(ROOT, "playbooks", "files", "app_schema.sql"), encoding="utf-8") as handle:
        schema = handle.read()
    with open(os.path.join(ROOT, "playbooks", "files", "app_seed_sample.sql"), encoding="utf-8") as handle:
        seed = handle.read().replace("generate_series(1, 10000)", "generate_series(1::bigint, %d)" % rows)
    with connection.cursor() as cursor:
        cursor.execute("SET ROLE %s" % USER)
        cursor.execute(schema)
        # Orders are not part of this benchmark: only the customers and their copy.
        cursor.execute(seed.split("-- 20,000 orders")[0])
        cursor.execute("CREATE TABLE visitors (LIKE customers INCLUDING ALL)")
        cursor.execute("INSERT INTO visitors SELECT * FROM customers")
        cursor.execute("VACUUM ANALYZE")
    connection.close()


def fresh_database(server, name):
    connection = server.connect()
    with connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS %s" % name)
        cursor.execute("CREATE DATABASE %s TEMPLATE template_masking OWNER %s" % (name, USER))
    connection.close()


def login(server, name):
    return {"login_host": "127.0.0.1", "login_port": server.port, "login_user": USER,
            "login_db": name, "connect_timeout": 10}


def time_plain_update(server, name):
    import psycopg2  # pylint: disable=import-outside-toplevel
    connection = psycopg2.connect(host="127.0.0.1", port=server.port, user=USER, password=PASSWORD, dbname=name)
    started = time.monotonic()
    with connection, connection.cursor() as cursor:
        cursor.execute(PLAIN_UPDATE)
        rows = cursor.rowcount
    seconds = time.monotonic() - started
    connection.close()
    return seconds, rows


def time_method(server, name, rules, method, parallel):
    """The collection's own code (plan and run), as the module calls it, minus Ansible."""
    os.environ["PGPASSWORD"] = PASSWORD
    connect = masking.connector(login(server, name), SALT)
    tables = masking.normalise_rules([dict(rule, method=method) for rule in rules])
    started = time.monotonic()
    connection = connect()
    with connection.cursor() as cursor:
        masking.resolve(cursor, tables)
        entries = masking.plan(cursor, tables, 500000)
    connection.rollback()
    connection.close()
    masking.run(connect, tables, entries, parallel, 100)
    seconds = time.monotonic() - started
    assert all(sum(e["unchanged_in_sample"].values()) == 0 for e in entries), entries
    return seconds, sum(e["rows"] for e in entries)


def time_module(server, name, work):
    """ansible-playbook running dbops.aurora.mask, as the refresh does."""
    playbook = os.path.join(work, "mask.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Mask", "dbops.aurora.mask": dict(login(server, name), rules=RULES),
             "register": "masked"},
            {"ansible.builtin.copy": {"content": "{{ masked | to_json }}",
                                      "dest": os.path.join(work, "module.json"), "mode": "0600"}}]}], handle)
    env = dict(os.environ, PGPASSWORD=PASSWORD, DBOPS_MASK_SALT=SALT,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    started = time.monotonic()
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook,
                    "-e", "ansible_python_interpreter=" + sys.executable],
                   env=env, check=True, stdout=subprocess.DEVNULL, timeout=1800)
    seconds = time.monotonic() - started
    with open(os.path.join(work, "module.json"), encoding="utf-8") as handle:
        result = json.load(handle)
    table = result["tables"][0]
    return seconds, table["rows"], table["method"], table["seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=1)
    options = parser.parse_args()
    fleet, work = postgres.standalone_fleet("dbops-bench-masking-")
    server = fleet.new_server("bench-masking", USER, PASSWORD, None)
    times = {}
    try:
        started = time.monotonic()
        fill_template(server, options.rows)
        print("template: %d customers and %d visitors in %.1f s"
              % (options.rows, options.rows, time.monotonic() - started))
        for run in range(options.runs):
            cases = [
                ("plain-update", lambda name: time_plain_update(server, name)),
                ("plain-rewrite", lambda name: time_method(server, name, PLAIN_RULES, "rewrite", 1)),
                ("update", lambda name: time_method(server, name, RULES, "update", 1)),
                ("rewrite", lambda name: time_method(server, name, RULES, "rewrite", 1)),
                ("module", lambda name: time_module(server, name, work)[:2]),
                ("two-serial", lambda name: time_method(server, name, BOTH, "rewrite", 1)),
                ("two-parallel", lambda name: time_method(server, name, BOTH, "rewrite", 2)),
            ]
            for label, case in cases:
                fresh_database(server, "bench")
                seconds, rows = case("bench")
                times.setdefault(label, []).append(seconds)
                print("run %d  %-13s %8.2f s  %10d rows  %10.0f rows/s" % (run + 1, label, seconds, rows, rows / seconds))
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)
    median = dict((label, statistics.median(values)) for label, values in times.items())
    ratios = {
        "plain_update_over_plain_rewrite": median["plain-update"] / median["plain-rewrite"],
        "plain_update_over_rewrite": median["plain-update"] / median["rewrite"],
        "update_over_rewrite": median["update"] / median["rewrite"],
        "plain_update_over_module": median["plain-update"] / median["module"],
        "two_parallel_over_one_rewrite": median["two-parallel"] / median["rewrite"],
        "two_serial_over_two_parallel": median["two-serial"] / median["two-parallel"],
    }
    print("medians: " + ", ".join("%s %.2f s" % item for item in median.items()))
    print("ratios:  " + ", ".join("%s %.2fx" % (k, v) for k, v in ratios.items()))
    print("targets: rewrite at least 2.5x faster than an UPDATE of the same expressions (plain %.2fx, "
          "keyed %.2fx); two tables in parallel near one (%.2fx one table's time)"
          % (ratios["plain_update_over_plain_rewrite"], ratios["update_over_rewrite"],
             ratios["two_parallel_over_one_rewrite"]))
    path = write_results({"rows": options.rows, "runs": options.runs, "seconds": times,
                          "median_seconds": median, "ratios": ratios}, "masking")
    print("results: %s" % path)


if __name__ == "__main__":
    main()
