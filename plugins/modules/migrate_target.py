#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: migrate_target
short_description: Prepare a target database for a migration and record how the migration went
version_added: 0.2.0
description:
  - With O(state=started), before the restore, creates the target database when it is missing,
    empties the tables a data-only migration is to load when O(truncate) asks for it, and records
    the migration as C(restoring) in C(dbops_migration.runs) in the target database.
  - With O(state=finished), after the verification, records it as C(complete) with its report.
  - A migration recorded as C(restoring) and never finished is one that died part-way;
    M(dbops.aurora.migrate_info) reports it as to be redone.
author:
  - dbops.aurora contributors (@dbops)
options:
  target:
    description: The target database.
    type: dict
    required: true
    suboptions:
      host: {description: Host name or address., type: str, required: true}
      port: {description: Port., type: int, default: 5432}
      user: {description: User to connect as., type: str, required: true}
      database: {description: The database., type: str, required: true}
      connect_timeout: {description: Seconds to wait for a connection., type: int, default: 10}
  maintenance_db:
    description: Database to connect to while the target database does not exist.
    type: str
    default: postgres
  state:
    description: C(started) before the restore, C(finished) after the verification.
    type: str
    choices: [started, finished]
    required: true
  source_label:
    description: Where the data comes from (HOST:PORT/DATABASE), for the record.
    type: str
    default: ""
  digest:
    description: The digest M(dbops.aurora.migrate_info) returned, for the record.
    type: str
    default: ""
  section:
    description: C(all), C(schema) or C(data), for the record.
    type: str
    choices: [all, schema, data]
    default: all
  truncate:
    description: Tables (SCHEMA.TABLE) to empty, in one statement, before a data-only migration loads them again.
    type: list
    elements: str
    default: []
  owner_role:
    description:
      - With O(state=started), the role that is to own what the restore creates. A database created
        here is owned by it; an existing one grants it C(CREATE) on the database and on schema
        C(public), so it can create schemas and tables there.
    type: str
    default: ""
  report:
    description: With O(state=finished), the report recorded with the migration.
    type: dict
    default: {}
notes:
  - The password is read from E(DBOPS_TARGET_PASSWORD).
  - Supports check mode (says what it would do).
requirements:
  - psycopg2
"""

EXAMPLES = r"""
- name: Record the start of the migration
  dbops.aurora.migrate_target:
    target: {host: "{{ cluster_endpoint }}", user: dbmaster, database: shop}
    state: started
    source_label: legacy-db.internal:5432/shop
    digest: "{{ migration_plan.digest }}"
  environment:
    DBOPS_TARGET_PASSWORD: "{{ target_credentials.password }}"
"""

RETURN = r"""
created_database:
  description: The target database did not exist and was created.
  returned: always
  type: bool
truncated:
  description: Tables emptied.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dbops.aurora.plugins.module_utils import _migrate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            target=dict(type="dict", required=True, options=_migrate.side_suboptions()),
            maintenance_db=dict(type="str", default="postgres"),
            state=dict(type="str", choices=["started", "finished"], required=True),
            source_label=dict(type="str", default=""),
            digest=dict(type="str", default=""),
            section=dict(type="str", choices=list(_migrate.SECTIONS), default="all"),
            truncate=dict(type="list", elements="str", default=[]),
            owner_role=dict(type="str", default=""),
            report=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    side = params["target"]
    if _migrate.psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2"))
    created = False
    try:
        password = _migrate.password_of("target")
        if params["state"] == "started":
            connection = _migrate.connect(side, password, params["maintenance_db"])
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %s)",
                                   (side["database"],))
                    created = not cursor.fetchone()[0]
                    if created and not module.check_mode:
                        cursor.execute(_migrate.create_database_sql(side["database"], params["owner_role"]))
            finally:
                connection.close()
            if module.check_mode:
                module.exit_json(changed=True, created_database=created, truncated=params["truncate"],
                                 msg="would record the migration from %s as restoring" % params["source_label"])
            connection = _migrate.connect(side, password)
            try:
                connection.autocommit = False
                with connection.cursor() as cursor:
                    if params["truncate"]:
                        names = [_migrate.split(n) for n in params["truncate"]]
                        cursor.execute(_migrate.sql.SQL("TRUNCATE {}").format(_migrate.sql.SQL(", ").join(
                            _migrate.sql.Identifier(schema, table) for schema, table in names)))
                    if params["owner_role"] and not created:
                        for statement in _migrate.owner_grants_sql(side["database"], params["owner_role"]):
                            cursor.execute(statement)
                    _migrate.write_started(cursor, params["source_label"], params["digest"], params["section"])
                connection.commit()
            finally:
                connection.close()
        else:
            if module.check_mode:
                module.exit_json(changed=True, created_database=False, truncated=[],
                                 msg="would record the migration as complete")
            connection = _migrate.connect(side, password)
            try:
                with connection.cursor() as cursor:
                    if not _migrate.write_finished(cursor, params["report"]):
                        module.fail_json(msg="no migration is recorded in %s to finish" % _migrate.label(side))
            finally:
                connection.close()
    except _migrate.MigrateError as error:
        module.fail_json(msg="%s; nothing was changed" % error)
    except _migrate.psycopg2.Error as error:
        module.fail_json(msg="the target %s: %s" % (_migrate.label(side), str(error).strip()),
                         pgcode=getattr(error, "pgcode", None))
    module.exit_json(changed=True, created_database=created,
                     truncated=params["truncate"] if params["state"] == "started" else [])


if __name__ == "__main__":
    main()
