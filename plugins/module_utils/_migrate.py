# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving an existing PostgreSQL database into a cluster: what the migrate_* modules share.

The plan (what to refuse, what to do), the pg_dump/pg_restore command lines, the dump and
restore run as detached jobs in a private work directory (so a task can report progress and a
rerun can stop what a killed run left), the record of a migration in the target database and
the table-by-table comparison of both sides.  Passwords never pass through here as arguments:
each side's comes from an environment variable the task sets.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

from ansible_collections.dbops.aurora.plugins.module_utils._masking import table_exists

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:  # the modules report it with missing_required_lib
    psycopg2 = None
    sql = None

SECTIONS = ("all", "schema", "data")
# The record of migrations, in the target database itself: a rerun reads it back.
RECORD_SCHEMA = "dbops_migration"
RECORD_TABLE = "runs"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", RECORD_SCHEMA)
PASSWORD_VARIABLES = {"source": "DBOPS_SOURCE_PASSWORD", "target": "DBOPS_TARGET_PASSWORD"}
JOB_STEPS = ("dump", "restore")


class MigrateError(ValueError):
    """A problem found before any change; the message says what to fix."""


def side_suboptions():
    return dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=5432),
        user=dict(type="str", required=True),
        database=dict(type="str", required=True),
        connect_timeout=dict(type="int", default=10),
    )


def both_sides_argument_spec():
    """The source and the target, and where their client tools are (migrate_info, migrate_verify)."""
    return dict(source=dict(type="dict", required=True, options=side_suboptions()),
                target=dict(type="dict", required=True, options=side_suboptions()),
                bin_dir=dict(type="path"))


def label(side):
    return "%s:%s/%s" % (side["host"], side["port"], side["database"])


def connect(side, password, database=None):
    connection = psycopg2.connect(host=side["host"], port=side["port"], user=side["user"],
                                  password=password, dbname=database or side["database"],
                                  connect_timeout=side.get("connect_timeout") or 10,
                                  application_name="dbops.aurora migrate")
    connection.autocommit = True
    return connection


def password_of(role, environ=None):
    """The password of the source or target side, from its environment variable."""
    environ = os.environ if environ is None else environ
    name = PASSWORD_VARIABLES[role]
    value = environ.get(name)
    if not value:
        raise MigrateError("set %s in the task's environment (the %s's password)" % (name, role))
    return value


# --- versions ---------------------------------------------------------------------------

def major(version_num):
    """server_version_num (150008) -> 15."""
    return int(version_num) // 10000


def client_major(version_text):
    """'pg_dump (PostgreSQL) 15.8 (Debian 15.8-1)' -> 15."""
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text or "")
    if not found:
        raise MigrateError("cannot read a PostgreSQL version from %r" % (version_text or "").strip())
    return int(found.group(1))


# --- what is on each side ---------------------------------------------------------------

_TABLES_SQL = """
SELECT n.nspname, c.relname, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN %s AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2"""


def identity(cursor):
    """What makes a running server and database unique: a source that is the target answers the
    same, whatever name or address it was reached by."""
    cursor.execute("SELECT pg_postmaster_start_time()::text, current_database(), "
                   "(SELECT oid FROM pg_database WHERE datname = current_database()), "
                   "current_setting('server_version_num')::int")
    started, database, oid, version_num = cursor.fetchone()
    return dict(started=started, database=database, oid=int(oid), version_num=version_num)


def user_tables(cursor):
    """[(schema, table, estimated rows)] of the database, leaving out system schemas, this
    collection's record and extension members."""
    cursor.execute(_TABLES_SQL, (SYSTEM_SCHEMAS,))
    return [(schema, table, max(int(rows), 0)) for schema, table, rows in cursor.fetchall()]


def _qualified_pattern(pattern):
    pattern = str(pattern).strip()
    if not pattern:
        raise MigrateError("an empty table pattern")
    return pattern if "." in pattern else "public." + pattern


def select_tables(tables, include, exclude):
    """The tables a migration moves: every table, or those matching an include pattern, minus
    those matching an exclude pattern.  Patterns are TABLE or SCHEMA.TABLE with shell
    wildcards; an include pattern that matches nothing is a mistake, not an empty migration."""
    names = ["%s.%s" % (schema, table) for schema, table, _rows in tables]
    include = [_qualified_pattern(p) for p in include or []]
    exclude = [_qualified_pattern(p) for p in exclude or []]
    unmatched = [p for p in include if not fnmatch.filter(names, p)]
    if unmatched:
        raise MigrateError("no table of the source matches %s" % ", ".join(unmatched))
    chosen = [n for n in names if not include or any(fnmatch.fnmatchcase(n, p) for p in include)]
    return [n for n in chosen if not any(fnmatch.fnmatchcase(n, p) for p in exclude)]


def split(name):
    schema, _dot, table = name.partition(".")
    return schema, table


def exact_rows(cursor, names):
    counts = {}
    for name in names:
        schema, table = split(name)
        statement = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        cursor.execute(statement)
        counts[name] = cursor.fetchone()[0]
    return counts


_SEQUENCES_SQL = """
SELECT s.schemaname || '.' || s.sequencename,
       CASE WHEN s.last_value IS NULL THEN s.start_value - s.increment_by ELSE s.last_value END,
       (SELECT tn.nspname || '.' || t.relname
        FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = t.relnamespace
        WHERE d.classid = 'pg_class'::regclass AND d.objid = format('%%I.%%I', s.schemaname,
              s.sequencename)::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.deptype IN ('a', 'i') LIMIT 1)
FROM pg_sequences s
WHERE s.schemaname NOT IN %s
ORDER BY 1"""


def sequences(cursor, names, whole_database):
    """{sequence: last value handed out} for the sequences a migration of ``names`` carries: those
    owned by a chosen table, and with a whole database also those no table owns."""
    cursor.execute(_SEQUENCES_SQL, (SYSTEM_SCHEMAS,))
    chosen = set(names)
    return {sequence: int(value) for sequence, value, owner in cursor.fetchall()
            if (owner in chosen) or (owner is None and whole_database)}


_CONSTRAINTS_SQL = """
SELECT n.nspname || '.' || c.relname, k.conname, k.contype
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN %s
ORDER BY 1, 2"""

_INDEXES_SQL = """
SELECT schemaname || '.' || tablename, indexname FROM pg_indexes WHERE schemaname NOT IN %s ORDER BY 1, 2"""

CONSTRAINT_KINDS = {"p": "primary key", "u": "unique", "f": "foreign key", "c": "check",
                    "x": "exclusion", "t": "trigger"}


def structure(cursor, names):
    """{table: {"constraints": [...], "indexes": [...]}} for the chosen tables."""
    chosen = set(names)
    result = {name: {"constraints": [], "indexes": []} for name in names}
    cursor.execute(_CONSTRAINTS_SQL, (SYSTEM_SCHEMAS,))
    for table, name, kind in cursor.fetchall():
        if table in chosen:
            result[table]["constraints"].append("%s (%s)" % (name, CONSTRAINT_KINDS.get(kind, kind)))
    cursor.execute(_INDEXES_SQL, (SYSTEM_SCHEMAS,))
    for table, name in cursor.fetchall():
        if table in chosen:
            result[table]["indexes"].append(name)
    return result


def inventory(cursor, names, section, whole_database):
    """What the comparison needs of one side."""
    result = {"tables": {}, "sequences": {}, "structure": {}}
    existing = {"%s.%s" % (schema, table) for schema, table, _rows in user_tables(cursor)}
    present = [n for n in names if n in existing]
    result["missing"] = [n for n in names if n not in existing]
    if section in ("all", "data"):
        result["tables"] = exact_rows(cursor, present)
        result["sequences"] = sequences(cursor, present, whole_database)
    if section in ("all", "schema"):
        result["structure"] = structure(cursor, present)
    return result


def compare(source, target, names, section):
    """Table-by-table comparison of both inventories: (per-table report, problems)."""
    problems = ["table %s is missing on the target" % n for n in target["missing"]]
    report = []
    for name in names:
        entry = {"table": name}
        if section in ("all", "data"):
            entry["source_rows"] = source["tables"].get(name)
            entry["target_rows"] = target["tables"].get(name)
            if name not in target["missing"] and entry["source_rows"] != entry["target_rows"]:
                problems.append("%s holds %s rows on the target, %s on the source"
                                % (name, entry["target_rows"], entry["source_rows"]))
        if section in ("all", "schema") and name not in target["missing"]:
            for kind in ("constraints", "indexes"):
                lost = sorted(set(source["structure"][name][kind]) - set(target["structure"][name][kind]))
                if lost:
                    problems.append("%s lacks %s on the target: %s" % (name, kind, ", ".join(lost)))
        report.append(entry)
    for sequence, value in sorted(source["sequences"].items()):
        there = target["sequences"].get(sequence)
        if there is None:
            problems.append("sequence %s is missing on the target" % sequence)
        elif there < value:
            problems.append("sequence %s is at %d on the target, behind the source's %d"
                            % (sequence, there, value))
    return report, problems


# --- the record in the target database ---------------------------------------------------

def record_digest(source_label, names, section):
    text = json.dumps({"source": source_label, "tables": sorted(names), "section": section},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _record_table():
    return sql.Identifier(RECORD_SCHEMA, RECORD_TABLE)


def read_record(cursor):
    """The latest migration recorded in this database, or None."""
    if not table_exists(cursor, RECORD_SCHEMA, RECORD_TABLE):
        return None
    cursor.execute(sql.SQL("SELECT source, digest, section, status, started::text, finished::text "
                           "FROM {} ORDER BY started DESC LIMIT 1").format(_record_table()))
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip(("source", "digest", "section", "status", "started", "finished"), row))


def write_started(cursor, source_label, digest, section):
    cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(RECORD_SCHEMA)))
    cursor.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (source text NOT NULL, digest text NOT NULL, "
                           "section text NOT NULL, status text NOT NULL, "
                           "started timestamptz NOT NULL DEFAULT clock_timestamp(), finished timestamptz, "
                           "report jsonb)").format(_record_table()))
    cursor.execute(sql.SQL("INSERT INTO {} (source, digest, section, status) VALUES (%s, %s, %s, 'restoring')")
                   .format(_record_table()), (source_label, digest, section))


def write_finished(cursor, report):
    cursor.execute(sql.SQL("UPDATE {0} SET status = 'complete', finished = clock_timestamp(), "
                           "report = %s WHERE started = (SELECT max(started) FROM {0})").format(_record_table()),
                   (json.dumps(report),))
    return cursor.rowcount


def create_database_sql(database, owner_role):
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
    if owner_role:
        statement = sql.SQL("{} OWNER {}").format(statement, sql.Identifier(owner_role))
    return statement


def owner_grants_sql(database, owner_role):
    """What the owner role needs in a database it does not own, to create what the restore creates."""
    role = sql.Identifier(owner_role)
    return [sql.SQL("GRANT CREATE, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(database), role),
            sql.SQL("DO $$BEGIN IF to_regnamespace('public') IS NOT NULL THEN "
                    "EXECUTE format('GRANT CREATE, USAGE ON SCHEMA public TO %I', {}); END IF; END$$")
            .format(sql.Literal(owner_role))]


# --- the plan -----------------------------------------------------------------------------

def decide(facts, replace, section):
    """What a run does, from what migrate_info found: (action, problems).

    fresh: nothing of ours or anyone's in the way.  resume: a run died between the start of its
    restore and its verification (the record says so): its work is redone, never trusted.
    replace: asked for, over a database that holds tables.  refuse: any problem."""
    problems = list(facts.get("problems", []))
    target = facts["target"]
    record = target.get("record")
    if facts["same_server"]:
        problems.append("the source and the target are the same database (%s)" % facts["source"]["label"])
    if facts["clients"]["pg_dump"] < facts["source"]["major"]:
        problems.append("pg_dump %d cannot dump a PostgreSQL %d server: install a client of at least "
                        "version %d on the SQL runner" % (facts["clients"]["pg_dump"], facts["source"]["major"],
                                                          facts["source"]["major"]))
    if facts["clients"]["pg_restore"] < facts["clients"]["pg_dump"]:
        problems.append("pg_restore %d is older than pg_dump %d" % (facts["clients"]["pg_restore"],
                                                                    facts["clients"]["pg_dump"]))
    if target["exists"] and target["major"] < facts["source"]["major"]:
        problems.append("the target runs PostgreSQL %d, older than the source's %d: a dump does not "
                        "go back a major version" % (target["major"], facts["source"]["major"]))
    interrupted = record is not None and record["status"] != "complete"
    if section == "data":
        missing = [n for n in facts["tables"] if n not in target["tables"]]
        if missing:
            problems.append("a data-only migration needs the tables on the target first; missing: %s"
                            % ", ".join(missing))
        in_the_way = sorted(n for n in facts["tables"] if target["tables"].get(n))
    else:
        in_the_way = sorted(target["tables"])
    if problems:
        return "refuse", problems
    if interrupted:
        return "resume", []
    if in_the_way and not replace:
        detail = ("it was migrated from %s, complete at %s" % (record["source"], record["finished"])
                  if record else "%d table(s), e.g. %s" % (len(in_the_way), ", ".join(in_the_way[:3])))
        return "refuse", ["the target database %s is not empty (%s): set replace to migrate over it"
                          % (target["label"], detail)]
    return ("replace" if in_the_way else "fresh"), []


# --- command lines ------------------------------------------------------------------------

def _literal_pattern(name):
    """A psql pattern that matches exactly one table (quoted: no wildcard, case kept)."""
    schema, table = split(name)
    return '"%s"."%s"' % (schema.replace('"', '""'), table.replace('"', '""'))


def dump_argv(pg_dump, side, directory, jobs, section, names, every_table, excluded):
    argv = [pg_dump, "--format=directory", "--jobs=%d" % jobs, "--file=%s" % directory,
            "--host=%s" % side["host"], "--port=%d" % side["port"], "--username=%s" % side["user"],
            "--no-password", "--verbose", "--no-owner", "--no-acl"]
    if section == "schema":
        argv.append("--schema-only")
    elif section == "data":
        argv.append("--data-only")
    if not every_table:
        argv += ["--table=%s" % _literal_pattern(n) for n in names]
    argv += ["--exclude-table=%s" % _literal_pattern(n) for n in excluded]
    argv.append("--dbname=%s" % side["database"])
    return argv


def restore_argv(pg_restore, side, directory, jobs, section, clean, role):
    argv = [pg_restore, "--format=directory", "--jobs=%d" % jobs, "--host=%s" % side["host"],
            "--port=%d" % side["port"], "--username=%s" % side["user"], "--no-password", "--verbose",
            "--no-owner", "--no-acl", "--exit-on-error", "--dbname=%s" % side["database"]]
    if section == "schema":
        argv.append("--schema-only")
    elif section == "data":
        # pg_dump orders a data-only dump by foreign keys; --disable-triggers would need a
        # superuser, which Aurora's master user is not.
        argv.append("--data-only")
    if clean and section != "data":
        argv += ["--clean", "--if-exists"]
    if role:
        argv.append("--role=%s" % role)
    argv.append(directory)
    return argv


# --- jobs: pg_dump or pg_restore detached, in a private work directory --------------------

def job_paths(work_dir, step):
    return {name: os.path.join(work_dir, "%s.%s" % (step, name)) for name in ("pid", "rc", "log", "total")}


def make_work_dir(work_dir):
    """The work directory holds a copy of the data: only its owner may read it."""
    os.makedirs(work_dir, mode=0o700, exist_ok=True)
    os.chmod(work_dir, 0o700)


def _process_start(pid):
    """The start time of a live process (with its pid, it names the process even after the pid
    is reused); None once it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def start_job(work_dir, step, argv, env):
    """Start argv detached (its own session: it outlives the module), its output in the log and
    its exit status written last, atomically, so a poll never reads half of it."""
    paths = job_paths(work_dir, step)
    for name in ("rc", "log"):
        if os.path.exists(paths[name]):
            os.unlink(paths[name])
    script = '"$@" >"$DBOPS_JOB_LOG" 2>&1; echo $? >"$DBOPS_JOB_RC.tmp" && mv "$DBOPS_JOB_RC.tmp" "$DBOPS_JOB_RC"'
    job_env = dict(env, DBOPS_JOB_LOG=paths["log"], DBOPS_JOB_RC=paths["rc"])
    old_umask = os.umask(0o077)
    try:
        process = subprocess.Popen(["/bin/sh", "-c", script, "dbops-migrate-" + step] + list(argv),
                                   env=job_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    finally:
        os.umask(old_umask)
    with open(paths["pid"], "w") as handle:
        handle.write("%d %s\n" % (process.pid, _process_start(process.pid)))
    return process.pid


def _recorded_job(work_dir, step):
    """(pid, start time) as start_job recorded them, or None when no job was started."""
    pid_file = job_paths(work_dir, step)["pid"]
    if not os.path.exists(pid_file):
        return None
    with open(pid_file) as handle:
        pid, _space, started = handle.read().strip().partition(" ")
    return int(pid), started


def job_state(work_dir, step):
    """("none" | "running" | "finished", exit status or None)."""
    rc_file = job_paths(work_dir, step)["rc"]
    if os.path.exists(rc_file):
        with open(rc_file) as handle:
            return "finished", int(handle.read().strip() or 1)
    recorded = _recorded_job(work_dir, step)
    if recorded is None:
        return "none", None
    pid, started = recorded
    if _process_start(pid) == started:
        return "running", None
    return "finished", None  # gone without a status: killed


def stop_jobs(work_dir, grace=10.0):
    """Stop the job a killed run left running in work_dir (its whole process group); return the
    steps stopped."""
    stopped = []
    for step in JOB_STEPS:
        recorded = _recorded_job(work_dir, step)
        if recorded is None:
            continue
        pid, started = recorded
        if _process_start(pid) != started:
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + grace
        while _process_start(pid) == started and time.monotonic() < deadline:
            time.sleep(0.2)
        if _process_start(pid) == started:
            os.killpg(pid, signal.SIGKILL)
        stopped.append(step)
    return stopped


def remove_work_dir(work_dir):
    stopped = stop_jobs(work_dir) if os.path.isdir(work_dir) else []
    existed = os.path.exists(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    return existed, stopped


def log_tail(work_dir, step, lines=15):
    try:
        with open(job_paths(work_dir, step)["log"], errors="replace") as handle:
            return [line.rstrip() for line in handle.readlines()[-lines:]]
    except OSError:
        return []


def dump_progress(directory):
    """(table data files written, bytes) of a directory-format dump under way."""
    files = written = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0, 0
    for entry in entries:
        if entry.name != "toc.dat" and entry.name.endswith((".dat", ".dat.gz", ".dat.lz4", ".dat.zst")):
            files += 1
        try:
            written += entry.stat().st_size
        except OSError:
            pass
    return files, written


_RESTORED = re.compile(r"^pg_restore: processing data for table ")


def restore_progress(work_dir):
    """Table data entries pg_restore has started (its --verbose log says each)."""
    try:
        with open(job_paths(work_dir, "restore")["log"], errors="replace") as handle:
            return sum(1 for line in handle if _RESTORED.match(line))
    except OSError:
        return 0


def count_table_data(pg_restore, directory, run=subprocess.run):
    """How many table data entries the dump holds (pg_restore --list)."""
    listing = run([pg_restore, "--list", directory], capture_output=True, text=True, check=True)
    return sum(1 for line in listing.stdout.splitlines()
               if not line.startswith(";") and " TABLE DATA " in line)
