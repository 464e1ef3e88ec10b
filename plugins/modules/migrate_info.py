#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: migrate_info
short_description: Plan moving a PostgreSQL database into a cluster, and say what stands in the way
version_added: 0.2.0
description:
  - Reads both sides and the SQL runner's PostgreSQL client, changes nothing.
  - Resolves the table patterns against the source, reads the versions, the target database
    (whether it exists, its tables, the record of an earlier migration in C(dbops_migration.runs))
    and whether the source and the target are in fact the same database.
  - Returns the action a migration takes, C(fresh), C(resume) (an earlier run died between the
    start of its restore and its verification, so its work is redone), C(replace) or C(refuse), with
    every problem found (a client older than the source, a target older than the source, the
    same database on both sides, a target that holds tables without O(replace), a missing owner
    role, tables a data-only migration needs).
  - Fails when either side cannot be reached, before anything is changed.
author:
  - dbops.aurora contributors (@dbops)
options:
  maintenance_db:
    description: Database on the target to connect to while the target database does not exist.
    type: str
    default: postgres
  tables:
    description:
      - Migrate only these tables, C(TABLE) or C(SCHEMA.TABLE) (schema C(public) when not given),
        shell wildcards allowed. Empty migrates the whole database.
    type: list
    elements: str
    default: []
  exclude_tables:
    description: Leave these tables out, written as O(tables).
    type: list
    elements: str
    default: []
  section:
    description: C(all) (schema and data), C(schema) only or C(data) only (into existing, empty tables).
    type: str
    choices: [all, schema, data]
    default: all
  replace:
    description: Migrate over a target database that already holds tables.
    type: bool
    default: false
  owner_role:
    description:
      - A role of the target that is to own what the migration creates; the connecting user must
        be a member of it. Empty leaves the objects to the connecting user.
    type: str
    default: ""
extends_documentation_fragment:
  - dbops.aurora.migrate
  - dbops.aurora.migrate.side
"""

EXAMPLES = r"""
- name: Plan the migration of the legacy database into the new cluster
  dbops.aurora.migrate_info:
    source: {host: legacy-db.internal, user: migrator, database: shop}
    target: {host: "{{ cluster_endpoint }}", user: dbmaster, database: shop}
    exclude_tables: [audit_log]
    owner_role: shop_owner
  environment:
    DBOPS_SOURCE_PASSWORD: "{{ source_credentials.password }}"
    DBOPS_TARGET_PASSWORD: "{{ target_credentials.password }}"
  register: migration_plan
"""

RETURN = r"""
action:
  description: C(fresh), C(resume), C(replace) or C(refuse).
  returned: always
  type: str
  sample: fresh
problems:
  description: Why the migration is refused (empty otherwise).
  returned: always
  type: list
  elements: str
  sample: []
tables:
  description: The source's tables the migration moves, as SCHEMA.TABLE.
  returned: always
  type: list
  elements: str
  sample: [public.customers, public.orders]
dump_tables:
  description: Tables to name to pg_dump (empty when the whole database, minus O(exclude_tables), moves).
  returned: always
  type: list
  elements: str
dump_excluded:
  description: Tables to leave out of a whole-database dump.
  returned: always
  type: list
  elements: str
whole_database:
  description: No table pattern was given (free-standing sequences move too).
  returned: always
  type: bool
source:
  description: The source, C(label), C(major), C(version_num), C(bytes) and C(estimated_rows).
  returned: always
  type: dict
target:
  description: The target, C(label), C(exists), C(major), C(tables) (name to estimated rows) and C(record) (the latest migration recorded there, or null).
  returned: always
  type: dict
clients:
  description: Major versions of pg_dump and pg_restore on the runner, and their paths.
  returned: always
  type: dict
  sample: {pg_dump: 16, pg_restore: 16, pg_dump_path: /usr/bin/pg_dump, pg_restore_path: /usr/bin/pg_restore}
same_server:
  description: The source and the target are the same database.
  returned: always
  type: bool
digest:
  description: Identifies what is migrated (source, tables, section); recorded with the migration.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dbops.aurora.plugins.module_utils import _migrate


def client(module, name):
    bin_dir = module.params["bin_dir"]
    path = os.path.join(bin_dir, name) if bin_dir else module.get_bin_path(name)
    if not path or not os.access(path, os.X_OK):
        module.fail_json(msg="%s is not installed on the SQL runner (%s); nothing was changed"
                         % (name, bin_dir or "PATH"))
    rc, out, err = module.run_command([path, "--version"])
    if rc != 0:
        module.fail_json(msg="%s --version failed: %s" % (path, err.strip()))
    return path, _migrate.client_major(out)


def reach(module, role, side, password, database=None):
    try:
        return _migrate.connect(side, password, database)
    except _migrate.psycopg2.Error as error:
        module.fail_json(msg="cannot reach the %s %s: %s; nothing was changed"
                         % (role, _migrate.label(side), str(error).strip()))


def read_source(module, password):
    side = module.params["source"]
    connection = reach(module, "source", side, password)
    try:
        with connection.cursor() as cursor:
            facts = _migrate.identity(cursor)
            tables = _migrate.user_tables(cursor)
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
    finally:
        connection.close()
    return facts, tables, size


def read_target(module, password):
    params = module.params
    side = params["target"]
    connection = reach(module, "target", side, password, params["maintenance_db"])
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %s), "
                           "current_setting('server_version_num')::int", (side["database"],))
            exists, version_num = cursor.fetchone()
            role = params["owner_role"]
            if role:
                cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", (role,))
                if not cursor.fetchone()[0]:
                    problems.append("the owner role %s does not exist on the target: create it first" % role)
                else:
                    cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (role,))
                    if not cursor.fetchone()[0]:
                        problems.append("%s is not a member of the owner role %s: GRANT %s TO %s first"
                                        % (side["user"], role, role, side["user"]))
    finally:
        connection.close()
    target = dict(label=_migrate.label(side), exists=exists, major=_migrate.major(version_num),
                  tables={}, record=None, identity=None)
    if exists:
        connection = reach(module, "target", side, password)
        try:
            with connection.cursor() as cursor:
                target["identity"] = _migrate.identity(cursor)
                target["tables"] = {"%s.%s" % (s, t): rows for s, t, rows in _migrate.user_tables(cursor)}
                target["record"] = _migrate.read_record(cursor)
        finally:
            connection.close()
    return target, problems


def main():
    argument_spec = _migrate.both_sides_argument_spec()
    argument_spec.update(
        maintenance_db=dict(type="str", default="postgres"),
        tables=dict(type="list", elements="str", default=[]),
        exclude_tables=dict(type="list", elements="str", default=[]),
        section=dict(type="str", choices=list(_migrate.SECTIONS), default="all"),
        replace=dict(type="bool", default=False),
        owner_role=dict(type="str", default=""),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if _migrate.psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2"))
    try:
        passwords = {role: _migrate.password_of(role) for role in ("source", "target")}
    except _migrate.MigrateError as error:
        module.fail_json(msg="%s; nothing was changed" % error)
    pg_dump_path, pg_dump_major = client(module, "pg_dump")
    pg_restore_path, pg_restore_major = client(module, "pg_restore")
    source_identity, source_tables, source_bytes = read_source(module, passwords["source"])
    target, problems = read_target(module, passwords["target"])
    tables = []
    try:
        tables = _migrate.select_tables(source_tables, params["tables"], params["exclude_tables"])
    except _migrate.MigrateError as error:
        problems.append(str(error))
    # A whole-database dump names what it leaves out; a dump of chosen tables names those.
    everything = ["%s.%s" % (s, t) for s, t, _rows in source_tables]
    excluded = [] if params["tables"] else [n for n in everything if n not in tables]
    estimated = {"%s.%s" % (s, t): rows for s, t, rows in source_tables}
    source = dict(label=_migrate.label(params["source"]), major=_migrate.major(source_identity["version_num"]),
                  version_num=source_identity["version_num"], bytes=source_bytes,
                  estimated_rows=sum(estimated[n] for n in tables))
    same = target["identity"] is not None and all(
        target["identity"][key] == source_identity[key] for key in ("started", "oid", "database", "version_num"))
    facts = dict(source=source, target=target, tables=tables, same_server=same, problems=problems,
                 clients=dict(pg_dump=pg_dump_major, pg_restore=pg_restore_major))
    action, problems = _migrate.decide(facts, params["replace"], params["section"])
    target.pop("identity")
    module.exit_json(
        changed=False, action=action, problems=problems, tables=tables,
        dump_tables=tables if params["tables"] else [], dump_excluded=excluded,
        whole_database=not params["tables"], source=source, target=target, same_server=same,
        clients=dict(facts["clients"], pg_dump_path=pg_dump_path, pg_restore_path=pg_restore_path),
        digest=_migrate.record_digest(source["label"], tables, params["section"]))


if __name__ == "__main__":
    main()
