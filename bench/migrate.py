#!/usr/bin/env python
"""Benchmark: migrating N rows (1,000,000 by default) with the migrate role against plain
pg_dump and pg_restore with the same job count.

Starts the AWS stand-in (for the two secrets the role reads) and two PostgreSQL servers of its
own, a source and a target (stopped by PID at the end), fills the source once (customers and
orders, N rows each, with keys, a foreign key and indexes), then times, each into a fresh target
database:

  baseline   pg_dump --format=directory --jobs=J, then pg_restore --jobs=J --no-owner --no-acl:
             what a careful operator types
  role       ansible-playbook running the dbops.aurora.migrate role: plan, dump, restore,
             exact table-by-table comparison, record, report; Ansible's start included

For the role, "transfer" is pg_dump and pg_restore as the role runs them (detached, polled:
from each command's start to the poll that saw it end), "phases" the dump and restore phases of
its report (the Ansible tasks around the commands included), "total" the whole
ansible-playbook run.

Prints seconds and MB/s (the source database's size over the time) for the baseline, the role's
dump and restore phases (from its report) and the role's whole run, and the ratios baseline/role;
the target is the role's transfer at least 0.9 of the baseline's speed.  Results also go to
bench/results/.

    .venv/bin/python bench/migrate.py [--rows 1000000] [--jobs 2] [--runs 1]
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
from refresh import EMULATOR, ROOT, free_port, write_results  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
from aws_emulator import postgres  # noqa: E402

USER, PASSWORD, DATABASE = "dbadmin", "bench-password", "shop"
SCHEMA = """
CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, city text, born date);
CREATE INDEX customers_city_idx ON customers (city);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id),
                     total_cents int NOT NULL, placed_at timestamptz NOT NULL);
CREATE INDEX orders_customer_idx ON orders (customer_id);
INSERT INTO customers (email, city, born)
SELECT 'customer' || g || '@example.com', 'city' || (g % 500), date '1950-01-01' + (g % 20000)::int
FROM generate_series(1::bigint, {rows}) AS g;
INSERT INTO orders (customer_id, total_cents, placed_at)
SELECT 1 + (g * 7919) % {rows}, (g % 100000)::int, timestamptz '2020-01-01' + g * interval '1 minute'
FROM generate_series(1::bigint, {rows}) AS g;
VACUUM ANALYZE;
"""


def new_server(fleet, label):
    return fleet.new_server(label, USER, PASSWORD, None)


def fill_source(server, rows):
    connection = server.connect()
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE %s OWNER %s" % (DATABASE, USER))
    connection.close()
    connection = server.connect(DATABASE)
    with connection.cursor() as cursor:
        cursor.execute("SET ROLE %s" % USER)
        for statement in SCHEMA.replace("{rows}", str(int(rows))).split(";\n"):
            if statement.strip():
                cursor.execute(statement)
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    connection.close()
    return size


def drop_target(server):
    connection = server.connect()
    with connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DATABASE)
    connection.close()


def client_env():
    return dict(os.environ, PGPASSWORD=PASSWORD)


def time_baseline(source, target, jobs, work):
    dump_dir = os.path.join(work, "baseline-dump")
    shutil.rmtree(dump_dir, ignore_errors=True)
    started = time.monotonic()
    subprocess.run(["pg_dump", "--format=directory", "--jobs=%d" % jobs, "--file=" + dump_dir, "-h", "127.0.0.1",
                    "-p", str(source.port), "-U", USER, "--no-password", DATABASE],
                   env=client_env(), check=True)
    dumped = time.monotonic()
    subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(target.port), "-U", USER, "--no-password", DATABASE],
                   env=client_env(), check=True)
    subprocess.run(["pg_restore", "--jobs=%d" % jobs, "--no-owner", "--no-acl", "--exit-on-error", "-h",
                    "127.0.0.1", "-p", str(target.port), "-U", USER, "--no-password", "-d", DATABASE, dump_dir],
                   env=client_env(), check=True)
    ended = time.monotonic()
    shutil.rmtree(dump_dir, ignore_errors=True)
    return {"dump": dumped - started, "restore": ended - dumped, "transfer": ended - started, "total": ended - started}


def time_role(jobs, work, env):
    playbook = os.path.join(work, "migrate.yml")
    report = os.path.join(work, "report.json")
    with open(playbook, "w", encoding="utf-8") as handle:
        json.dump([{"name": "Migrate", "hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Migrate", "ansible.builtin.include_role": {"name": "dbops.aurora.migrate"},
             "vars": {"migrate_source_secret_arn": "bench/source", "migrate_target_secret_arn": "bench/target",
                      "migrate_aws_profile": "acceptance", "migrate_jobs": jobs, "migrate_work_root": work,
                      "migrate_progress_seconds": 30, "migrate_poll_interval": 0.5,
                      "migrate_report_path": report}}]}], handle)
    started = time.monotonic()
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook,
                    "-e", "ansible_python_interpreter=" + sys.executable],
                   env=env, check=True, stdout=subprocess.DEVNULL, timeout=3600)
    total = time.monotonic() - started
    with open(report, encoding="utf-8") as handle:
        result = json.load(handle)
    assert result["problems"] == [] and all(t["source_rows"] == t["target_rows"] for t in result["tables"]), result
    seconds, commands = result["seconds"], result["command_seconds"]
    return {"dump": seconds["dump"], "restore": seconds["restore"],
            "transfer": commands["dump"] + commands["restore"],
            "phases": seconds["dump"] + seconds["restore"], "verify": seconds["verify"], "plan": seconds["plan"],
            "total": total}


def start_emulator(work):
    state = os.path.join(work, "emulator")
    subprocess.run([EMULATOR, "up", "--state-dir", state, "--port", str(free_port())], check=True,
                   stdout=subprocess.DEVNULL)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    with open(os.path.join(state, "env.sh"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("export "):
                name, _eq, value = line[len("export "):].strip().partition("=")
                env[name] = value.strip("'\"")
    return state, env


def put_secrets(env, source, target):
    import boto3  # pylint: disable=import-outside-toplevel
    old = dict(os.environ)
    os.environ.update(env)  # the stand-in's config and credentials files name the profile
    try:
        session = boto3.session.Session(profile_name="acceptance")
        client = session.client("secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"])
        for name, server in (("bench/source", source), ("bench/target", target)):
            client.create_secret(Name=name, SecretString=json.dumps({
                "username": USER, "password": PASSWORD, "host": "127.0.0.1", "port": server.port,
                "dbname": DATABASE}))
    finally:
        os.environ.clear()
        os.environ.update(old)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    options = parser.parse_args()
    fleet, work = postgres.standalone_fleet("dbops-bench-migrate-")
    source = new_server(fleet, "bench-source")
    target = new_server(fleet, "bench-target")
    state = None
    times = {}
    try:
        state, env = start_emulator(work)
        put_secrets(env, source, target)
        started = time.monotonic()
        size = fill_source(source, options.rows)
        print("source: %d customers and %d orders, %.1f MB, in %.1f s"
              % (options.rows, options.rows, size / 1048576.0, time.monotonic() - started))
        for run in range(options.runs):
            for label, case in (("baseline", lambda: time_baseline(source, target, options.jobs, work)),
                                ("role", lambda: time_role(options.jobs, work, env))):
                drop_target(target)
                result = case()
                for key, value in result.items():
                    times.setdefault("%s-%s" % (label, key), []).append(value)
                print("run %d  %-8s " % (run + 1, label) + "  ".join(
                    "%s %.2f s" % item for item in result.items())
                    + "  (%.1f MB/s transfer)" % (size / 1048576.0 / result["transfer"]))
    finally:
        if state:
            subprocess.run([EMULATOR, "down", "--state-dir", state], check=False, stdout=subprocess.DEVNULL)
        source.destroy()
        target.destroy()
        shutil.rmtree(work, ignore_errors=True)
    median = {label: statistics.median(values) for label, values in times.items()}
    mb = size / 1048576.0
    ratios = {
        "transfer_baseline_over_role": median["baseline-transfer"] / median["role-transfer"],
        "total_baseline_over_role": median["baseline-total"] / median["role-total"],
    }
    ratios["phases_baseline_over_role"] = median["baseline-transfer"] / median["role-phases"]
    speeds = {"baseline_mb_s": mb / median["baseline-transfer"], "role_transfer_mb_s": mb / median["role-transfer"],
              "role_phases_mb_s": mb / median["role-phases"], "role_total_mb_s": mb / median["role-total"]}
    print("medians: " + ", ".join("%s %.2f s" % item for item in sorted(median.items())))
    print("MB/s (source %.1f MB): baseline %.1f, role transfer %.1f, role phases %.1f, role whole run %.1f"
          % (mb, speeds["baseline_mb_s"], speeds["role_transfer_mb_s"], speeds["role_phases_mb_s"],
             speeds["role_total_mb_s"]))
    print("ratio baseline/role: transfer %.2f (target >= 0.9), phases %.2f, whole run %.2f"
          % (ratios["transfer_baseline_over_role"], ratios["phases_baseline_over_role"],
             ratios["total_baseline_over_role"]))
    path = write_results({"rows": options.rows, "jobs": options.jobs, "runs": options.runs, "source_bytes": size,
                          "medians": median, "ratios": ratios, "mb_per_s": speeds}, name="migrate")
    print("results: %s" % os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
