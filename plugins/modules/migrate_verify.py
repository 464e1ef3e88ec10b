#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: migrate_verify
short_description: Compare a migrated database with its source, table by table
version_added: 0.2.0
description:
  - Reads both sides and changes nothing.
  - For a migration with data, counts the rows of every migrated table exactly on both sides and
    checks that every sequence the migration carries is on the target at least where it is on the
    source.
  - For a migration with the schema, checks that every constraint and index of every migrated
    table is on the target.
  - Returns the problems found; the caller decides (the C(migrate) role stops on any).
author:
  - dbops.aurora contributors (@dbops)
options:
  tables:
    description: The migrated tables (SCHEMA.TABLE), as M(dbops.aurora.migrate_info) returned them.
    type: list
    elements: str
    required: true
  section:
    description: C(all), C(schema) or C(data), as migrated.
    type: str
    choices: [all, schema, data]
    default: all
  whole_database:
    description: The whole database was migrated, so sequences no table owns are compared too.
    type: bool
    default: true
extends_documentation_fragment:
  - dbops.aurora.migrate
  - dbops.aurora.migrate.side
"""

EXAMPLES = r"""
- name: Compare both sides
  dbops.aurora.migrate_verify:
    source: {host: legacy-db.internal, user: migrator, database: shop}
    target: {host: "{{ cluster_endpoint }}", user: dbmaster, database: shop}
    tables: "{{ migration_plan.tables }}"
  environment:
    DBOPS_SOURCE_PASSWORD: "{{ source_credentials.password }}"
    DBOPS_TARGET_PASSWORD: "{{ target_credentials.password }}"
  register: migration_check
"""

RETURN = r"""
tables:
  description: Per table, C(table), C(source_rows) and C(target_rows) (with data).
  returned: always
  type: list
  elements: dict
  sample: [{table: public.customers, source_rows: 10000, target_rows: 10000}]
sequences:
  description: Sequence to its value on the source and on the target.
  returned: always
  type: dict
  sample: {public.customers_id_seq: {source: 10000, target: 10000}}
problems:
  description: Every difference found; empty when the target matches.
  returned: always
  type: list
  elements: str
seconds:
  description: Time the comparison took.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dbops.aurora.plugins.module_utils import _migrate


def main():
    argument_spec = _migrate.both_sides_argument_spec()
    argument_spec.update(
        tables=dict(type="list", elements="str", required=True),
        section=dict(type="str", choices=list(_migrate.SECTIONS), default="all"),
        whole_database=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if _migrate.psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2"))
    started = time.monotonic()
    sides = {}
    try:
        for role in ("source", "target"):
            connection = _migrate.connect(params[role], _migrate.password_of(role))
            try:
                with connection.cursor() as cursor:
                    sides[role] = _migrate.inventory(cursor, params["tables"], params["section"],
                                                     params["whole_database"])
            finally:
                connection.close()
    except _migrate.MigrateError as error:
        module.fail_json(msg=str(error))
    except _migrate.psycopg2.Error as error:
        module.fail_json(msg="cannot compare the %s %s: %s"
                         % (role, _migrate.label(params[role]), str(error).strip()))
    report, problems = _migrate.compare(sides["source"], sides["target"], params["tables"], params["section"])
    sequences = {name: {"source": value, "target": sides["target"]["sequences"].get(name)}
                 for name, value in sides["source"]["sequences"].items()}
    module.exit_json(changed=False, tables=report, sequences=sequences, problems=problems,
                     seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
