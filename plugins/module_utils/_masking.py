# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masking rules: checked, compiled to set-based SQL, and proven.

A rule set is a list of tables, each with a strategy per column (docs/masking.md).  This file
turns them into one UPDATE per table, or a rewrite (a masked copy made with INSERT ... SELECT,
the table's indexes, constraints, grants and owned sequences carried over, names swapped in one
transaction), and holds the coverage guard's queries.  Nothing here talks to Ansible: the
modules mask and masking_info are thin shells around it, and pytest reaches it directly.

No value is ever embedded in SQL text: the hash key travels as a session setting
(dbops.mask_salt), constants as literals quoted here, identifiers quoted here.
"""

import hashlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

try:
    import psycopg2
except ImportError:
    psycopg2 = None

# The schema the masking record lives in, on the masked database itself: one row per table
# masked, written in the same transaction as the table, so a rerun after a crash masks each
# table exactly once (a keyed hash applied twice would break joins between tables).
RECORD_SCHEMA = "dbops_masking"
RECORD_TABLE = "applied"

DEFAULT_EMAIL_DOMAIN = "masked.invalid"
SALT_SETTING = "dbops.mask_salt"
METHODS = ("auto", "update", "rewrite")

# Synthetic surnames: a masked name must never equal a real person's, so none of these is one.
_FIRST_NAMES = ("Alex", "Sam", "Robin", "Kim", "Charlie", "Jordan", "Taylor", "Morgan", "Casey",
                "Jamie", "Riley", "Quinn", "Avery", "Rowan", "Sasha", "Noor", "Eli", "Ari",
                "Jules", "Dani")
_LAST_NAMES = ("Maskwell", "Testerson", "Sampleton", "Fakeley", "Mockford", "Stubington",
               "Placeholt", "Dummerby", "Anonsen", "Redactis", "Nullberg", "Obscurio",
               "Hashford", "Cipherton", "Blankley", "Veilsworth", "Shadowsen", "Proxley",
               "Decoyne", "Fictoria")

# Column names that look personal, matched on the whole name or any '_' separated part.
_PERSONAL_NAME = re.compile(
    r"(^|_)(e?mail|email_?address|(first|last|full|sur|user|given|family|middle|maiden|nick|display)?name|phone|mobile|cell|tel|telephone|fax|address|street|"
    r"city|zip|zipcode|postcode|postal_?code|birth[a-z]*|dob|iban|bic|ssn|bsn|tax_?id|ip|"
    r"ip_?address|passport|national_?id|license|licence|salary|gender)(_|$)")
# Value shapes (PostgreSQL regular expressions) that look personal whatever the column's name.
SHAPES = {
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "phone": r"^\+?[0-9][0-9 ().-]{6,}[0-9]$",
    "iban": r"^[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11,30}$",
}
_TEXT_CATEGORY = "S"


class RuleError(ValueError):
    """Rules that cannot run as written: raised before any change."""


def quote_ident(name):
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value):
    # standard_conforming_strings is on (the default since PostgreSQL 9.1, and Aurora's).
    return "'" + str(value).replace("'", "''") + "'"


def split_table(name):
    """'customers' -> ('public', 'customers'); 'sales.orders' -> ('sales', 'orders')."""
    if not isinstance(name, str) or not name.strip():
        raise RuleError("a rule's table must be a non-empty string such as public.customers")
    parts = name.split(".")
    if len(parts) == 1:
        return "public", parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise RuleError("table '%s' must be written as TABLE or SCHEMA.TABLE" % name)


def qualified(schema, table):
    return quote_ident(schema) + "." + quote_ident(table)


# Each strategy: its options with defaults (None: required), and whether it needs a text column.
STRATEGIES = {
    "null": ({}, False),
    "constant": ({"value": None}, False),
    "email": ({"domain": DEFAULT_EMAIL_DOMAIN}, True),
    "full_name": ({}, True),
    "phone": ({}, True),
    "hash": ({"length": 0}, True),
    "partial": ({"keep_first": 1, "keep_last": 0, "fill": "*"}, True),
    "keep_prefix": ({"keep": 1, "fill": "*"}, True),
    "shift_date": ({"days": 30}, False),
    "fake_from_id": ({"template": None, "id_column": ""}, False),
    "sql": ({"expression": None}, False),
}
# Strategies whose output must differ from every original value (checked on a sample).
MUST_DIFFER = ("email", "full_name", "phone", "hash", "fake_from_id", "shift_date")
# Strategies that read the hash key.
KEYED = ("email", "full_name", "phone", "hash", "shift_date")


def normalise_rules(rules):
    """The rule set as [{schema, table, method, columns: [{column, strategy, options}]}].

    A column's rule is a strategy name, or a dict with 'strategy' and that strategy's options.
    Raises RuleError naming the first problem."""
    if not isinstance(rules, list):
        raise RuleError("masking rules must be a list of {table, columns}")
    seen = set()
    tables = []
    for index, entry in enumerate(rules):
        where = "masking rule %d" % (index + 1)
        if not isinstance(entry, dict):
            raise RuleError("%s must be a dict with table and columns" % where)
        unknown = sorted(set(entry) - {"table", "columns", "method"})
        if unknown:
            raise RuleError("%s has unknown keys: %s" % (where, ", ".join(unknown)))
        schema, table = split_table(entry.get("table"))
        if (schema, table) in seen:
            raise RuleError("table %s.%s has two rules; give it one with all its columns"
                            % (schema, table))
        seen.add((schema, table))
        method = entry.get("method", "auto")
        if method not in METHODS:
            raise RuleError("%s: method must be one of %s, not '%s'" % (where, ", ".join(METHODS), method))
        columns = entry.get("columns")
        if not isinstance(columns, dict) or not columns:
            raise RuleError("%s (%s.%s): columns must be a dict of column: strategy"
                            % (where, schema, table))
        tables.append({"schema": schema, "table": table, "method": method,
                       "columns": [_column_rule(schema, table, name, spec)
                                   for name, spec in sorted(columns.items())]})
    return tables


def _column_rule(schema, table, column, spec):
    where = "%s.%s.%s" % (schema, table, column)
    if isinstance(spec, str):
        spec = {"strategy": spec}
    if not isinstance(spec, dict) or "strategy" not in spec:
        raise RuleError("%s: a rule is a strategy name or a dict with 'strategy'" % where)
    strategy = spec["strategy"]
    if strategy not in STRATEGIES:
        raise RuleError("%s: unknown strategy '%s' (one of %s)"
                        % (where, strategy, ", ".join(sorted(STRATEGIES))))
    defaults = STRATEGIES[strategy][0]
    unknown = sorted(set(spec) - {"strategy"} - set(defaults))
    if unknown:
        raise RuleError("%s: strategy %s takes no option %s" % (where, strategy, ", ".join(unknown)))
    options = dict(defaults)
    options.update({k: v for k, v in spec.items() if k != "strategy"})
    missing = sorted(k for k, v in options.items() if v is None and k not in spec)
    if missing:
        raise RuleError("%s: strategy %s needs %s" % (where, strategy, ", ".join(missing)))
    for key in ("length", "keep_first", "keep_last", "keep", "days"):
        if key in options and (not isinstance(options[key], int) or isinstance(options[key], bool)
                               or options[key] < 0):
            raise RuleError("%s: %s must be a whole number of at least 0" % (where, key))
    if strategy == "shift_date" and options["days"] < 1:
        raise RuleError("%s: days must be at least 1" % where)
    if "fill" in options and (not isinstance(options["fill"], str) or len(options["fill"]) != 1):
        raise RuleError("%s: fill must be one character" % where)
    if strategy == "fake_from_id" and "{id}" not in str(options["template"]):
        raise RuleError("%s: template must contain {id}" % where)
    if strategy == "sql" and not str(options["expression"]).strip():
        raise RuleError("%s: expression must not be empty" % where)
    return {"column": column, "strategy": strategy, "options": options}


def rule_digest(rule):
    """What identifies a column's rule in the masking record (a rerun skips a column it masked)."""
    text = json.dumps({"strategy": rule["strategy"], "options": rule["options"]}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def needs_salt(tables):
    return any(c["strategy"] in KEYED for t in tables for c in t["columns"])


# --- compiling ---------------------------------------------------------------------------

def _hex(column_sql):
    """The keyed hash of a value as 64 hex digits (sha256 is built in: no extension needed)."""
    return ("encode(sha256(convert_to(current_setting(%s) || %s::text, 'UTF8')), 'hex')"
            % (quote_literal(SALT_SETTING), column_sql))


def _hash_int(column_sql):
    """A non-negative int (28 bits) from the keyed hash.  One hash per value: it is most of a
    masked column's cost (about 2.5 s per million values here), so a strategy that needs two
    choices takes both from this one number."""
    return "('x' || substr(%s, 1, 7))::bit(28)::int" % _hex(column_sql)


def _text_array(values):
    return "ARRAY[%s]" % ", ".join(quote_literal(v) for v in values)


def _fit(expression, info):
    return "left(%s, %d)" % (expression, info["max_length"]) if info.get("max_length") else expression


def masked_expression(rule, info):
    """The SQL expression a column's new value is computed by (NULL stays NULL)."""
    col = quote_ident(rule["column"])
    opts = rule["options"]
    strategy = rule["strategy"]
    if strategy == "null":
        return "NULL"
    if strategy == "constant":
        if opts["value"] is None:
            return "NULL"
        return "CAST(%s AS %s)" % (quote_literal(opts["value"]), info["type"])
    if strategy == "sql":
        return "(%s)" % opts["expression"]
    if strategy == "fake_from_id":
        before, _sep, after = str(opts["template"]).partition("{id}")
        value = "%s || %s::text || %s" % (quote_literal(before), quote_ident(opts["id_column"]), quote_literal(after))
        return "CAST(%s AS %s)" % (_fit(value, info), info["type"])
    if strategy == "shift_date":
        days = opts["days"]
        # Never 0: the lowest bit gives the sign, the rest the size.
        shift = ("(SELECT (CASE WHEN n %% 2 = 0 THEN 1 ELSE -1 END) * (1 + (n / 2) %% %d) FROM (SELECT %s AS n OFFSET 0) AS h)"
                 % (days, _hash_int(col)))
        return ("CASE WHEN %s IS NULL THEN NULL ELSE CAST(%s + %s * interval '1 day' AS %s) END"
                % (col, col, shift, info["type"]))
    if strategy == "email":
        value = "'u' || substr(%s, 1, 16) || %s" % (_hex(col), quote_literal("@" + opts["domain"]))
    elif strategy == "full_name":
        value = ("(SELECT (%s)[1 + n %% %d] || ' ' || (%s)[1 + (n / %d) %% %d] FROM (SELECT %s AS n OFFSET 0) AS h)"
                 % (_text_array(_FIRST_NAMES), len(_FIRST_NAMES), _text_array(_LAST_NAMES),
                    len(_FIRST_NAMES), len(_LAST_NAMES), _hash_int(col)))
    elif strategy == "phone":
        value = "'+00 ' || lpad((%s %% 1000000000)::text, 9, '0')" % _hash_int(col)
    elif strategy == "hash":
        value = _hex(col)
        if opts["length"]:
            value = "left(%s, %d)" % (value, opts["length"])
    else:  # partial, keep_prefix
        first = opts["keep_first"] if strategy == "partial" else opts["keep"]
        last = opts.get("keep_last", 0)
        fill = quote_literal(opts["fill"])
        value = ("CASE WHEN length(%s) <= %d THEN repeat(%s, length(%s)) "
                 "ELSE left(%s, %d) || repeat(%s, length(%s) - %d) || right(%s, %d) END"
                 % (col, first + last, fill, col, col, first, fill, col, first + last, col, last))
    return "CASE WHEN %s IS NULL THEN NULL ELSE %s END" % (col, _fit(value, info))


def masked_predicate(rule, info):
    """SQL true for a value the rule could have produced, or None when no shape tells."""
    col = quote_ident(rule["column"])
    opts = rule["options"]
    strategy = rule["strategy"]
    if strategy == "null":
        return "%s IS NULL" % col
    if strategy == "constant":
        if opts["value"] is None:
            return "%s IS NULL" % col
        return "%s IS NOT DISTINCT FROM CAST(%s AS %s)" % (col, quote_literal(opts["value"]), info["type"])
    if strategy == "email":
        suffix = "@" + opts["domain"]
        if info.get("max_length") and info["max_length"] < 17 + len(suffix):
            return None
        return "%s IS NULL OR %s ~ %s" % (col, col, quote_literal("^u[0-9a-f]{16}" + re.escape(suffix) + "$"))
    if strategy == "phone":
        return "%s IS NULL OR %s ~ '^\\+00 [0-9]{9}$'" % (col, col)
    if strategy == "hash":
        return "%s IS NULL OR %s ~ '^[0-9a-f]+$'" % (col, col)
    if strategy == "full_name":
        return ("%s IS NULL OR (split_part(%s, ' ', 1) = ANY(%s) AND split_part(%s, ' ', 2) = ANY(%s))"
                % (col, col, _text_array(_FIRST_NAMES), col, _text_array(_LAST_NAMES)))
    if strategy in ("partial", "keep_prefix"):
        first = opts["keep_first"] if strategy == "partial" else opts["keep"]
        kept = first + opts.get("keep_last", 0)
        fill = quote_literal(opts["fill"])
        return ("%s IS NULL OR CASE WHEN length(%s) <= %d THEN %s = repeat(%s, length(%s)) "
                "ELSE substr(%s, %d, length(%s) - %d) = repeat(%s, length(%s) - %d) END"
                % (col, col, kept, col, fill, col, col, first + 1, col, kept, fill, col, kept))
    if strategy == "fake_from_id":
        before, _sep, after = str(opts["template"]).partition("{id}")
        pattern = "^" + re.escape(before) + ".+" + re.escape(after) + "$"
        return "%s IS NULL OR %s::text ~ %s" % (col, col, quote_literal(pattern))
    return None


# --- the catalog -------------------------------------------------------------------------

_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory,
       CASE WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND a.atttypmod > 4
            THEN a.atttypmod - 4 END,
       a.attgenerated <> '', a.attidentity <> ''
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""

_PRIMARY_KEY_SQL = """
SELECT array_agg(a.attname ORDER BY a.attnum)
FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
WHERE c.conrelid = %s::regclass AND c.contype = 'p'"""


def table_exists(cursor, schema, table):
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified(schema, table),))
    return cursor.fetchone()[0]


def columns_of(cursor, schema, table):
    """{name: {type, category, max_length, generated, identity}} in column order."""
    cursor.execute(_COLUMNS_SQL, (qualified(schema, table),))
    return {row[0]: {"type": row[1], "category": row[2], "max_length": row[3],
                     "generated": row[4], "identity": row[5]} for row in cursor.fetchall()}


def estimated_rows(cursor, schema, table):
    """pg_class's estimate (a restored cluster has statistics); count(*) when there is none."""
    cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                   (qualified(schema, table),))
    rows = cursor.fetchone()[0]
    if rows is None or rows < 0:
        cursor.execute("SELECT count(*) FROM %s" % qualified(schema, table))
        rows = cursor.fetchone()[0]
    return rows


def resolve(cursor, tables):
    """Check every rule against the database; attach column types and the key column.

    Raises RuleError for a missing table or column, a strategy that does not fit its column's
    type, or a fake_from_id without a key, before anything is changed."""
    for table_rule in tables:
        schema, table = table_rule["schema"], table_rule["table"]
        name = "%s.%s" % (schema, table)
        if not table_exists(cursor, schema, table):
            raise RuleError("table %s does not exist" % name)
        columns = columns_of(cursor, schema, table)
        cursor.execute(_PRIMARY_KEY_SQL, (qualified(schema, table),))
        key = cursor.fetchone()[0] or []
        table_rule["all_columns"] = columns
        table_rule["key"] = key
        for rule in table_rule["columns"]:
            info = columns.get(rule["column"])
            where = "%s.%s" % (name, rule["column"])
            if info is None:
                raise RuleError("column %s does not exist" % where)
            if info["generated"]:
                raise RuleError("column %s is generated: mask the columns it is computed from" % where)
            if STRATEGIES[rule["strategy"]][1] and info["category"] != _TEXT_CATEGORY:
                raise RuleError("column %s is %s: strategy %s needs a text column"
                                % (where, info["type"], rule["strategy"]))
            if rule["strategy"] == "shift_date" and info["category"] != "D":
                raise RuleError("column %s is %s: shift_date needs a date or timestamp column"
                                % (where, info["type"]))
            if rule["strategy"] == "phone" and info["max_length"] and info["max_length"] < 13:
                raise RuleError("column %s holds at most %d characters: a masked phone needs 13"
                                % (where, info["max_length"]))
            if rule["strategy"] == "fake_from_id":
                id_column = rule["options"]["id_column"] or (key[0] if len(key) == 1 else "")
                if not id_column or id_column not in columns:
                    raise RuleError("column %s: fake_from_id needs id_column (the table has no "
                                    "single-column primary key)" % where)
                rule["options"]["id_column"] = id_column
            rule["info"] = info
    return tables


def choose_method(table_rule, rows, rewrite_min_rows, rewrite_problem):
    """(method, why): a rule's method wins; auto rewrites large tables that can be rewritten."""
    if table_rule["method"] == "update":
        return "update", "chosen by rule"
    if table_rule["method"] == "rewrite":
        if rewrite_problem:
            raise RuleError("%s.%s cannot be rewritten: %s"
                            % (table_rule["schema"], table_rule["table"], rewrite_problem))
        return "rewrite", "chosen by rule"
    if rows < rewrite_min_rows:
        return "update", "%d rows, under the rewrite threshold of %d" % (rows, rewrite_min_rows)
    if rewrite_problem:
        return "update", "%d rows, but it cannot be rewritten: %s" % (rows, rewrite_problem)
    return "rewrite", "%d rows, at or over the rewrite threshold of %d" % (rows, rewrite_min_rows)


def _expressions(table_rule):
    return {rule["column"]: masked_expression(rule, rule["info"]) for rule in table_rule["columns"]}


def update_sql(table_rule):
    """One set-based UPDATE for every ruled column of the table."""
    assignments = ", ".join("%s = %s" % (quote_ident(col), expr)
                            for col, expr in _expressions(table_rule).items())
    return "UPDATE %s SET %s" % (qualified(table_rule["schema"], table_rule["table"]), assignments)


# --- rewrite ---------------------------------------------------------------------------

# What a rewrite cannot carry over: the table then keeps the UPDATE method.
_REWRITE_BLOCKERS_SQL = """
SELECT CASE
  WHEN c.relkind <> 'r' THEN 'it is not a plain table'
  WHEN c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
    THEN 'it has row-level security'
  WHEN EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid)
    THEN 'it takes part in inheritance or partitioning'
  WHEN EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass
                 AND d.objid = r.oid WHERE d.refobjid = c.oid AND r.ev_class <> c.oid)
    THEN 'a view or rule depends on it'
  WHEN EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid) THEN 'it has rules'
  WHEN EXISTS (SELECT 1 FROM pg_publication_rel pr WHERE pr.prrelid = c.oid)
    THEN 'it is in a publication'
  WHEN EXISTS (SELECT 1 FROM pg_statistic_ext s WHERE s.stxrelid = c.oid)
    THEN 'it has extended statistics'
  WHEN EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = c.oid AND d.deptype = 'e')
    OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    THEN 'it belongs to an extension'
  WHEN EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class o ON o.oid = a.attrelid
                 WHERE a.atttypid = c.reltype AND o.oid <> c.oid)
    THEN 'another table uses its row type'
  END
FROM pg_class c WHERE c.oid = %s::regclass"""

_INDEXES_SQL = """
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
WHERE i.indrelid = %s::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                    AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
ORDER BY i.indexrelid"""

# Constraints on the table that LIKE ... INCLUDING CONSTRAINTS does not copy (check constraints
# and NOT NULL it does), in an order that works: keys before foreign keys.
_OWN_CONSTRAINTS_SQL = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'x', 'f')
ORDER BY CASE contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 ELSE 3 END, conname"""

_INCOMING_FOREIGN_KEYS_SQL = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE confrelid = %s::regclass AND conrelid <> confrelid AND contype = 'f' ORDER BY 1, 2"""

_TRIGGERS_SQL = """
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal
ORDER BY tgname"""

_OWNED_SEQUENCES_SQL = """
SELECT d.objid::regclass::text, a.attname, d.deptype, s.relname FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.refobjid = %s::regclass AND d.deptype IN ('a', 'i')"""

_GRANTS_SQL = """
SELECT NULL::text, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
       g.privilege_type, g.is_grantable
FROM pg_class c, aclexplode(c.relacl) g LEFT JOIN pg_roles r ON r.oid = g.grantee
WHERE c.oid = %s::regclass AND g.grantee <> c.relowner
UNION ALL
SELECT a.attname, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
       g.privilege_type, g.is_grantable
FROM pg_attribute a, aclexplode(a.attacl) g LEFT JOIN pg_roles r ON r.oid = g.grantee
WHERE a.attrelid = %s::regclass AND a.attacl IS NOT NULL"""


def rewrite_problem(cursor, schema, table):
    """Why the table cannot be rewritten, or None."""
    cursor.execute(_REWRITE_BLOCKERS_SQL, (qualified(schema, table),))
    return cursor.fetchone()[0]


def _fetch(cursor, sql, *params):
    cursor.execute(sql, params)
    return cursor.fetchall()


def rewrite_statements(cursor, table_rule):
    """The statements of a rewrite, in order, read from the catalog as the table is now.

    Run them in one transaction: any failure leaves the table as it was."""
    schema, table = table_rule["schema"], table_rule["table"]
    name = qualified(schema, table)
    copy_name = table[:40] + "__dbops_masked"
    copy = qualified(schema, copy_name)
    columns = table_rule["all_columns"]
    expressions = _expressions(table_rule)
    insert_columns = [c for c, info in columns.items() if not info["generated"]]
    select = ", ".join(expressions.get(c, quote_ident(c)) for c in insert_columns)
    cursor.execute("SELECT pg_get_userbyid(relowner), relpersistence, obj_description(oid, 'pg_class') "
                   "FROM pg_class WHERE oid = %s::regclass", (name,))
    owner, persistence, comment = cursor.fetchone()
    indexes = [row[0] for row in _fetch(cursor, _INDEXES_SQL, name)]
    own = _fetch(cursor, _OWN_CONSTRAINTS_SQL, name)
    incoming = _fetch(cursor, _INCOMING_FOREIGN_KEYS_SQL, name)
    triggers = [row[0] for row in _fetch(cursor, _TRIGGERS_SQL, name)]
    sequences = _fetch(cursor, _OWNED_SEQUENCES_SQL, name)
    grants = _fetch(cursor, _GRANTS_SQL, name, name)

    statements = ["LOCK TABLE %s IN ACCESS EXCLUSIVE MODE" % name]
    for referencing, constraint, _definition in incoming:
        statements.append("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE" % referencing)
    statements.append(
        "CREATE %sTABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY "
        "INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION)"
        % ("UNLOGGED " if persistence == "u" else "", copy, name))
    statements.append("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s"
                      % (copy, ", ".join(quote_ident(c) for c in insert_columns), select, name))
    renames = []
    for sequence, column, deptype, sequence_name in sequences:
        if deptype == "a":
            # A serial's sequence: handed to the copy, so dropping the table keeps it.
            statements.append("ALTER SEQUENCE %s OWNED BY %s.%s" % (sequence, copy, quote_ident(column)))
            continue
        # An identity's sequence goes with its table; the copy's own continues where it was
        # and takes its name once the old one is gone.
        statements.append("SELECT setval(pg_get_serial_sequence(%s, %s), last_value, is_called) FROM %s"
                          % (quote_literal(copy), quote_literal(column), sequence))
        renames.append((column, sequence_name))
    for referencing, constraint, _definition in incoming:
        statements.append("ALTER TABLE %s DROP CONSTRAINT %s" % (referencing, quote_ident(constraint)))
    statements.append("DROP TABLE %s" % name)
    statements.append("ALTER TABLE %s RENAME TO %s" % (copy, quote_ident(table)))
    for column, sequence_name in renames:
        statements.append("DO $dbops$ BEGIN EXECUTE format('ALTER SEQUENCE %%s RENAME TO %%I', "
                          "pg_get_serial_sequence(%s, %s), %s); END $dbops$"
                          % (quote_literal(name), quote_literal(column), quote_literal(sequence_name)))
    for constraint, definition in own:
        statements.append("ALTER TABLE %s ADD CONSTRAINT %s %s" % (name, quote_ident(constraint), definition))
    statements.extend(indexes)
    for referencing, constraint, definition in incoming:
        statements.append("ALTER TABLE %s ADD CONSTRAINT %s %s" % (referencing, quote_ident(constraint), definition))
    statements.extend(triggers)
    statements.append("ALTER TABLE %s OWNER TO %s" % (name, quote_ident(owner)))
    for column, grantee, privilege, grantable in grants:
        statements.append("GRANT %s%s ON %s TO %s%s"
                          % (privilege, " (%s)" % quote_ident(column) if column else "", name, grantee,
                             " WITH GRANT OPTION" if grantable else ""))
    if comment is not None:
        statements.append("COMMENT ON TABLE %s IS %s" % (name, quote_literal(comment)))
    return statements


# --- running ---------------------------------------------------------------------------

def ensure_record(cursor):
    cursor.execute("CREATE SCHEMA IF NOT EXISTS %s" % quote_ident(RECORD_SCHEMA))
    cursor.execute("CREATE TABLE IF NOT EXISTS %s.%s (table_name text NOT NULL, column_name text NOT NULL, "
                   "rule_digest text NOT NULL, strategy text NOT NULL, method text NOT NULL, "
                   "row_count bigint NOT NULL, seconds numeric NOT NULL, "
                   "masked_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, column_name))"
                   % (quote_ident(RECORD_SCHEMA), quote_ident(RECORD_TABLE)))


def recorded_digests(cursor):
    """{(table, column): rule digest} of what earlier runs masked."""
    if not table_exists(cursor, RECORD_SCHEMA, RECORD_TABLE):
        return {}
    cursor.execute("SELECT table_name, column_name, rule_digest FROM %s.%s"
                   % (quote_ident(RECORD_SCHEMA), quote_ident(RECORD_TABLE)))
    return dict(((table, column), digest) for table, column, digest in cursor.fetchall())


def recorded(cursor):
    """What dbops_masking.applied holds, one dict per table (its columns, last method, rows)."""
    if not table_exists(cursor, RECORD_SCHEMA, RECORD_TABLE):
        return []
    cursor.execute("SELECT table_name, array_agg(column_name ORDER BY column_name), "
                   "(array_agg(method ORDER BY masked_at DESC))[1], max(row_count), "
                   "max(masked_at)::text FROM %s.%s GROUP BY table_name ORDER BY table_name"
                   % (quote_ident(RECORD_SCHEMA), quote_ident(RECORD_TABLE)))
    return [dict(zip(("table", "columns", "method", "rows", "masked_at"), row))
            for row in cursor.fetchall()]


def _sample(cursor, table_rule, size):
    """The columns whose output must differ from the original, and a sample of (row key,
    original values) taken before masking.  A row's key is its primary key; without one the
    comparison is by value (any masked value equal to a sampled original counts)."""
    columns = [r["column"] for r in table_rule["columns"] if r["strategy"] in MUST_DIFFER]
    if not columns or not size:
        return columns, []
    cursor.execute("SELECT %s, %s FROM %s WHERE num_nonnulls(%s) > 0 LIMIT %d"
                   % (_row_key(table_rule), ", ".join("%s::text" % quote_ident(c) for c in columns),
                      qualified(table_rule["schema"], table_rule["table"]),
                      ", ".join(quote_ident(c) for c in columns), size))
    return columns, cursor.fetchall()


def _row_key(table_rule):
    key = table_rule.get("key") or []
    if len(key) == 1:
        return "%s::text" % quote_ident(key[0])
    return "ROW(%s)::text" % ", ".join(quote_ident(c) for c in key) if key else "NULL::text"


def _unchanged(cursor, table_rule, columns, sample):
    """How many sampled values are still equal to their original, per column."""
    unchanged = dict((c, 0) for c in columns)
    name = qualified(table_rule["schema"], table_rule["table"])
    for index, column in enumerate(columns):
        pairs = [(row[0], row[1 + index]) for row in sample if row[1 + index] is not None]
        if not pairs:
            continue
        key = table_rule.get("key") or []
        if len(key) == 1:
            # One key column: looked up through its index, not by scanning the table.
            key_type = table_rule["all_columns"][key[0]]["type"]
            cursor.execute("SELECT count(*) FROM %s JOIN unnest(%%s::text[], %%s::text[]) AS s(k, v) "
                           "ON %s = s.k::%s WHERE %s::text = s.v"
                           % (name, quote_ident(key[0]), key_type, quote_ident(column)),
                           ([k for k, _v in pairs], [v for _k, v in pairs]))
        elif key:
            cursor.execute("SELECT count(*) FROM %s JOIN unnest(%%s::text[], %%s::text[]) AS s(k, v) "
                           "ON %s = s.k WHERE %s::text = s.v" % (name, _row_key(table_rule), quote_ident(column)),
                           ([k for k, _v in pairs], [v for _k, v in pairs]))
        else:
            cursor.execute("SELECT count(*) FROM %s WHERE %s::text = ANY(%%s)" % (name, quote_ident(column)),
                           ([v for _k, v in pairs],))
        unchanged[column] = cursor.fetchone()[0]
    return unchanged


def mask_table(connection, table_rule, method, sample_size):
    """Mask one table in one transaction and record it; returns what the report shows."""
    schema, table = table_rule["schema"], table_rule["table"]
    started = time.monotonic()
    with connection:
        with connection.cursor() as cursor:
            columns, sample = _sample(cursor, table_rule, sample_size)
            if method == "rewrite":
                for statement in rewrite_statements(cursor, table_rule):
                    cursor.execute(statement)
                    if statement.startswith("INSERT INTO"):
                        rows = cursor.rowcount
            else:
                cursor.execute(update_sql(table_rule))
                rows = cursor.rowcount
            unchanged = _unchanged(cursor, table_rule, columns, sample)
            seconds = round(time.monotonic() - started, 3)
            for rule in table_rule["columns"]:
                cursor.execute("INSERT INTO %s.%s (table_name, column_name, rule_digest, strategy, method, "
                               "row_count, seconds) VALUES (%%s, %%s, %%s, %%s, %%s, %%s, %%s) "
                               "ON CONFLICT (table_name, column_name) DO UPDATE SET "
                               "rule_digest = EXCLUDED.rule_digest, strategy = EXCLUDED.strategy, "
                               "method = EXCLUDED.method, row_count = EXCLUDED.row_count, "
                               "seconds = EXCLUDED.seconds, masked_at = now()"
                               % (quote_ident(RECORD_SCHEMA), quote_ident(RECORD_TABLE)),
                               ("%s.%s" % (schema, table), rule["column"], rule_digest(rule),
                                rule["strategy"], method, rows, seconds))
    if method == "rewrite":
        # Outside the transaction: fresh statistics for the new table (the old one's went with it).
        previous = connection.autocommit
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE %s" % qualified(schema, table))
        finally:
            connection.autocommit = previous
    return {"rows": rows, "seconds": seconds, "unchanged_in_sample": unchanged,
            "sampled": len(sample)}


def foreign_key_groups(cursor, tables):
    """Tables linked by foreign keys, grouped: a group is masked on one connection, one table
    after another (rewrites of linked tables lock each other); groups run side by side."""
    names = ["%s.%s" % (t["schema"], t["table"]) for t in tables]
    parent = dict((n, n) for n in names)

    def root(name):
        while parent[name] != name:
            name = parent[name]
        return name

    cursor.execute("SELECT n1.nspname || '.' || c1.relname, n2.nspname || '.' || c2.relname "
                   "FROM pg_constraint k JOIN pg_class c1 ON c1.oid = k.conrelid "
                   "JOIN pg_namespace n1 ON n1.oid = c1.relnamespace "
                   "JOIN pg_class c2 ON c2.oid = k.confrelid JOIN pg_namespace n2 ON n2.oid = c2.relnamespace "
                   "WHERE k.contype = 'f'")
    for child, referenced in cursor.fetchall():
        if child in parent and referenced in parent:
            parent[root(child)] = root(referenced)
    groups = {}
    for table_rule, name in zip(tables, names):
        groups.setdefault(root(name), []).append(table_rule)
    return list(groups.values())


def plan(cursor, tables, rewrite_min_rows):
    """Per table: the method and why, the estimated rows, and the columns an earlier run already
    masked by the same rule (skipped: a keyed hash applied twice would no longer match the
    other tables).  A table with nothing left to mask is skipped."""
    done = recorded_digests(cursor)
    entries = []
    for table_rule in tables:
        schema, table = table_rule["schema"], table_rule["table"]
        name = "%s.%s" % (schema, table)
        rows = estimated_rows(cursor, schema, table)
        method, why = choose_method(table_rule, rows, rewrite_min_rows,
                                    rewrite_problem(cursor, schema, table))
        masked = sorted(r["column"] for r in table_rule["columns"]
                        if done.get((name, r["column"])) == rule_digest(r))
        remasked = sorted(r["column"] for r in table_rule["columns"]
                          if (name, r["column"]) in done and r["column"] not in masked)
        table_rule["columns"] = [r for r in table_rule["columns"] if r["column"] not in masked]
        entries.append({"table": name, "method": method, "why": why, "estimated_rows": rows,
                        "columns": dict((r["column"], r["strategy"]) for r in table_rule["columns"]),
                        "already_masked": masked, "masked_again": remasked,
                        "skipped": not table_rule["columns"],
                        "skipped_why": ("already masked by these rules (dbops_masking.applied)"
                                        if not table_rule["columns"] else "")})
    return entries


def run(connect, tables, entries, parallel, sample_size):
    """Mask the planned tables: groups linked by foreign keys side by side, at most ``parallel``
    connections.  Fills each entry with rows, seconds and the sample proof; returns the entries.
    A table that fails keeps its data (its transaction rolls back) and the error is raised once
    the other groups have finished."""
    by_name = dict((e["table"], e) for e in entries)
    with connect() as connection:
        with connection.cursor() as cursor:
            ensure_record(cursor)
            groups = foreign_key_groups(cursor, tables)
    connection.close()

    def mask_group(group):
        connection = connect()
        try:
            for table_rule in group:
                entry = by_name["%s.%s" % (table_rule["schema"], table_rule["table"])]
                if not entry["skipped"]:
                    entry.update(mask_table(connection, table_rule, entry["method"], sample_size))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(groups)))) as pool:
        futures = [pool.submit(mask_group, group) for group in groups]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]
    return entries


def login_argument_spec():
    return dict(
        login_host=dict(type="str", required=True),
        login_port=dict(type="int", default=5432),
        login_user=dict(type="str", required=True),
        login_db=dict(type="str", required=True),
        connect_timeout=dict(type="int", default=10),
    )


def connector(params, salt=None):
    """A function returning a new connection.  The password comes from PGPASSWORD (libpq reads
    it), never from a module argument; the hash key is set on the session, not put in SQL."""
    def connect():
        connection = psycopg2.connect(host=params["login_host"], port=params["login_port"],
                                      user=params["login_user"], dbname=params["login_db"],
                                      connect_timeout=params["connect_timeout"],
                                      application_name="dbops.aurora masking")
        if salt is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, %s, false)", (SALT_SETTING, salt))
            connection.commit()
        return connection
    return connect


# --- the coverage guard ----------------------------------------------------------------

_CANDIDATE_COLUMNS_SQL = """
SELECT n.nspname, c.relname, a.attname, t.typcategory
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', %s)
  AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2, a.attnum"""


def looks_personal_by_name(column):
    return bool(_PERSONAL_NAME.search(column.lower()))


def safe_set(safe_columns):
    """'table.column' or 'schema.table.column' -> {(schema, table, column)}."""
    result = set()
    for entry in safe_columns or []:
        parts = str(entry).split(".")
        if len(parts) == 2:
            parts = ["public"] + parts
        if len(parts) != 3 or not all(parts):
            raise RuleError("safe column '%s' must be written as TABLE.COLUMN or SCHEMA.TABLE.COLUMN"
                            % entry)
        result.add(tuple(parts))
    return result


def unruled_personal_columns(cursor, tables, safe_columns, sample_rows, share=0.1):
    """Columns that look personal (by name, or by a share of sampled values shaped like an
    e-mail address, a phone number or an IBAN) with no rule and not declared safe."""
    ruled = set((t["schema"], t["table"], c["column"]) for t in tables for c in t["columns"])
    safe = safe_set(safe_columns)
    found = []
    by_table = {}
    for schema, table, column, category in _fetch(cursor, _CANDIDATE_COLUMNS_SQL, RECORD_SCHEMA):
        key = (schema, table, column)
        if key in ruled or key in safe:
            continue
        if looks_personal_by_name(column):
            found.append({"table": "%s.%s" % (schema, table), "column": column, "reason": "its name"})
        elif category == _TEXT_CATEGORY:
            by_table.setdefault((schema, table), []).append(column)
    for (schema, table), columns in sorted(by_table.items()):
        counts = []
        for column in columns:
            col = quote_ident(column)
            counts.append("count(%s)" % col)
            counts.extend("count(*) FILTER (WHERE %s ~ %s)" % (col, quote_literal(SHAPES[s]))
                          for s in sorted(SHAPES))
        cursor.execute("SELECT %s FROM (SELECT %s FROM %s LIMIT %d) AS sample"
                       % (", ".join(counts), ", ".join(quote_ident(c) for c in columns),
                          qualified(schema, table), sample_rows))
        row = cursor.fetchone()
        width = 1 + len(SHAPES)
        for index, column in enumerate(columns):
            values = row[index * width]
            for shape, matches in zip(sorted(SHAPES), row[index * width + 1:(index + 1) * width]):
                if values and matches >= max(1, share * values):
                    found.append({"table": "%s.%s" % (schema, table), "column": column,
                                  "reason": "%d of %d sampled values look like %s"
                                            % (matches, values, "an " + shape if shape[0] in "ei" else "a " + shape)})
                    break
    return found


def unproven_rules(cursor, tables):
    """Ruled columns holding values their strategy cannot have produced (counted, never shown)."""
    problems = []
    for table_rule in tables:
        name = qualified(table_rule["schema"], table_rule["table"])
        for rule in table_rule["columns"]:
            predicate = masked_predicate(rule, rule["info"])
            if predicate is None:
                continue
            cursor.execute("SELECT count(*) FROM %s WHERE NOT coalesce(%s, false)" % (name, predicate))
            rows = cursor.fetchone()[0]
            if rows:
                problems.append({"table": "%s.%s" % (table_rule["schema"], table_rule["table"]),
                                 "column": rule["column"], "strategy": rule["strategy"],
                                 "rows_not_masked": rows})
    return problems
