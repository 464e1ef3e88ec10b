#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: mask
short_description: Mask personal data in a PostgreSQL database by declarative rules
version_added: 0.2.0
description:
  - Checks every rule against the database first (table, column, a strategy that fits the
    column's type); a rule that cannot run fails the module before anything is changed.
  - Masks each table in one transaction, by one set-based C(UPDATE) or, for large tables, by a
    rewrite (a masked copy, the table's indexes, constraints, foreign keys pointing at it,
    triggers, grants, owner and owned sequences carried over, names swapped in the same
    transaction). Either way a failure leaves the table as it was.
  - Tables linked by foreign keys are masked one after another on one connection; unlinked
    tables run side by side on up to O(parallel) connections.
  - Records each masked column in C(dbops_masking.applied) in the table's transaction, so a
    rerun after a crash skips the columns the same rule already masked (a keyed hash applied
    twice would no longer match the other tables).
  - The password is read from the E(PGPASSWORD) environment variable and the hash key from
    E(DBOPS_MASK_SALT), never from module arguments (Ansible writes those to a file a killed run
    leaves behind).
  - Strategies are described in the collection's C(docs/masking.md).
author:
  - dbops.aurora contributors (@dbops)
options:
  rules:
    description:
      - One entry per table, C(table) (C(TABLE) or C(SCHEMA.TABLE); schema C(public) when not
        given), C(columns) (a dict of column to strategy) and optional C(method) (C(auto),
        C(update) or C(rewrite)).
      - A column's rule is a strategy name or a dict with C(strategy) and its options. Strategies
        C(null), C(constant) (C(value)), C(email) (C(domain)), C(full_name), C(phone), C(hash)
        (C(length)), C(partial) (C(keep_first), C(keep_last), C(fill)), C(keep_prefix)
        (C(keep), C(fill)), C(shift_date) (C(days)), C(fake_from_id) (C(template) with C({id}),
        C(id_column)) and C(sql) (C(expression), the escape hatch).
    type: list
    elements: dict
    required: true
  rewrite_min_rows:
    description: With C(method=auto), tables with at least this many rows (estimated) are rewritten.
    type: int
    default: 500000
  parallel:
    description: At most this many tables (groups of tables linked by foreign keys) at once.
    type: int
    default: 2
  sample_size:
    description:
      - Rows sampled before masking; afterwards none of their values may be left as they were
        in a column whose strategy must change every value (all but C(null), C(constant),
        C(partial), C(keep_prefix) and C(sql)). C(0) skips the proof.
    type: int
    default: 100
notes:
  - Supports check mode, which reports the plan (method per table and why) and changes nothing.
extends_documentation_fragment:
  - dbops.aurora.postgres_login
"""

EXAMPLES = r"""
- name: Mask personal data on the new cluster
  dbops.aurora.mask:
    login_host: "{{ endpoint }}"
    login_user: postgres
    login_db: app
    rules:
      - table: customers
        columns:
          email: email
          full_name: full_name
          phone: phone
      - table: orders
        columns:
          customer_email: email
          shipping_address: {strategy: fake_from_id, template: "{id} Masked Street"}
  environment:
    PGPASSWORD: "{{ credentials.password }}"
    DBOPS_MASK_SALT: "{{ masking_salt }}"
"""

RETURN = r"""
tables:
  description: One entry per table, in the order of the rules.
  returned: always
  type: list
  elements: dict
  contains:
    table: {description: SCHEMA.TABLE, type: str, sample: public.customers}
    method: {description: C(update) or C(rewrite)., type: str, sample: update}
    why: {description: Why that method., type: str, sample: "10000 rows, under the rewrite threshold of 500000"}
    estimated_rows: {description: The planner's row estimate before masking., type: int, sample: 10000}
    columns: {description: Column to strategy., type: dict, sample: {email: email}}
    already_masked:
      description: Columns an earlier run masked by the same rule (left alone).
      type: list
      elements: str
      sample: [email]
    masked_again:
      description: Columns an earlier run masked by a different rule, masked again by this one.
      type: list
      elements: str
      sample: []
    skipped: {description: Every column was already masked by the same rule., type: bool, sample: false}
    skipped_why: {description: "Why it was skipped, or empty.", type: str, sample: ""}
    rows: {description: Rows masked (not when skipped or in check mode)., type: int, sample: 10000}
    seconds: {description: Time the table's transaction took., type: float, sample: 0.41}
    sampled: {description: Rows sampled for the proof., type: int, sample: 100}
    unchanged_in_sample:
      description: Per column, sampled values still equal to their original (0 when masking worked).
      type: dict
      sample: {email: 0}
seconds:
  description: Wall time of the whole masking.
  returned: always
  type: float
  sample: 1.2
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dbops.aurora.plugins.module_utils import _masking


def main():
    argument_spec = _masking.login_argument_spec()
    argument_spec.update(
        rules=dict(type="list", elements="dict", required=True),
        rewrite_min_rows=dict(type="int", default=500000),
        parallel=dict(type="int", default=2),
        sample_size=dict(type="int", default=100),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if _masking.psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2"))
    for name in ("parallel", "rewrite_min_rows", "sample_size"):
        if params[name] < (1 if name == "parallel" else 0):
            module.fail_json(msg="%s must be at least %d" % (name, 1 if name == "parallel" else 0))
    started = time.monotonic()
    try:
        tables = _masking.normalise_rules(params["rules"])
        salt = os.environ.get("DBOPS_MASK_SALT") or None
        if salt is None and _masking.needs_salt(tables):
            raise _masking.RuleError("the rules use a keyed strategy (%s): set DBOPS_MASK_SALT in the "
                                     "task's environment" % ", ".join(_masking.KEYED))
        connect = _masking.connector(params, salt)
        connection = connect()
        try:
            with connection.cursor() as cursor:
                _masking.resolve(cursor, tables)
                entries = _masking.plan(cursor, tables, params["rewrite_min_rows"])
            connection.rollback()
        finally:
            connection.close()
        pending = [e for e in entries if not e["skipped"]]
        if pending and not module.check_mode:
            _masking.run(connect, tables, entries, params["parallel"], params["sample_size"])
    except _masking.RuleError as error:
        module.fail_json(msg="masking rules: %s; nothing was changed" % error)
    except _masking.psycopg2.Error as error:
        module.fail_json(msg="masking failed: %s" % str(error).strip(),
                         pgcode=getattr(error, "pgcode", None))
    module.exit_json(changed=bool(pending), tables=entries,
                     seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
