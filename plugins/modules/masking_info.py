#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: masking_info
short_description: The masking coverage guard, personal-looking columns without a rule and rules that did not hold
version_added: 0.2.0
description:
  - Reads a PostgreSQL database and changes nothing.
  - Lists every column that looks personal, by its name (email, name, phone, address, birth,
    iban, ssn, ip and the like) or by a share of sampled values shaped like an e-mail address, a
    phone number or an IBAN, that has no masking rule and is not declared safe.
  - Proves each rule held, where its strategy leaves a recognisable shape, by counting the rows
    whose value the strategy cannot have produced (counts only; no value is ever returned).
  - Returns what C(dbops_masking.applied) recorded (which tables were masked, by which method).
author:
  - dbops.aurora contributors (@dbops)
options:
  rules:
    description: The masking rules, as for M(dbops.aurora.mask).
    type: list
    elements: dict
    default: []
  safe_columns:
    description:
      - Columns an operator declared safe, as C(TABLE.COLUMN) or C(SCHEMA.TABLE.COLUMN) (for
        example columns masked by SQL files, or names that only look personal).
    type: list
    elements: str
    default: []
  sample_rows:
    description: Rows per table sampled for value shapes.
    type: int
    default: 1000
extends_documentation_fragment:
  - dbops.aurora.postgres_login
"""

EXAMPLES = r"""
- name: Check that every personal column is masked
  dbops.aurora.masking_info:
    login_host: "{{ endpoint }}"
    login_user: postgres
    login_db: app
    rules: "{{ masking_rules }}"
    safe_columns: [public.words.word]
  environment:
    PGPASSWORD: "{{ credentials.password }}"
  register: guard

- name: Stop when a personal column has no rule
  ansible.builtin.assert:
    that: guard.ok
"""

RETURN = r"""
ok:
  description: True when no column is left unmasked and every rule held.
  returned: always
  type: bool
  sample: true
unruled:
  description: Personal-looking columns with no rule and not declared safe.
  returned: always
  type: list
  elements: dict
  sample: [{table: public.orders, column: shipping_address, reason: its name}]
unproven:
  description: Ruled columns with values their strategy cannot have produced (a count per column).
  returned: always
  type: list
  elements: dict
  sample: [{table: public.customers, column: email, strategy: email, rows_not_masked: 3}]
masked:
  description: What dbops_masking.applied recorded, one entry per table.
  returned: always
  type: list
  elements: dict
  sample: [{table: public.customers, columns: [email, full_name], method: update, rows: 10000,
            masked_at: "2026-12-02 04:12:09.1+00"}]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dbops.aurora.plugins.module_utils import _masking


def main():
    argument_spec = _masking.login_argument_spec()
    argument_spec.update(
        rules=dict(type="list", elements="dict", default=[]),
        safe_columns=dict(type="list", elements="str", default=[]),
        sample_rows=dict(type="int", default=1000),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if _masking.psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2"))
    if params["sample_rows"] < 1:
        module.fail_json(msg="sample_rows must be at least 1")
    try:
        tables = _masking.normalise_rules(params["rules"])
        _masking.safe_set(params["safe_columns"])
        connection = _masking.connector(params)()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
                _masking.resolve(cursor, tables)
                unruled = _masking.unruled_personal_columns(cursor, tables, params["safe_columns"],
                                                            params["sample_rows"])
                unproven = _masking.unproven_rules(cursor, tables)
                masked = _masking.recorded(cursor)
        finally:
            connection.rollback()
            connection.close()
    except _masking.RuleError as error:
        module.fail_json(msg="masking rules: %s" % error)
    except _masking.psycopg2.Error as error:
        module.fail_json(msg="masking check failed: %s" % str(error).strip(),
                         pgcode=getattr(error, "pgcode", None))
    module.exit_json(changed=False, ok=not unruled and not unproven, unruled=unruled,
                     unproven=unproven, masked=masked)


if __name__ == "__main__":
    main()
