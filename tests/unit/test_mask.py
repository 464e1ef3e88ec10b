"""Masking rules (plugins/module_utils/_masking.py, modules mask and masking_info) on a real
PostgreSQL server: every strategy, both methods, what a rewrite must carry over, and the guard."""

import pytest

from conftest import import_collection_plugin

masking = import_collection_plugin("plugins.module_utils._masking")

SCHEMA = """
CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email varchar(254) NOT NULL UNIQUE,
    full_name varchar(200) NOT NULL,
    phone varchar(32),
    born date,
    note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT email_has_at CHECK (position('@' in email) > 0)
);
CREATE INDEX customers_name_idx ON customers (lower(full_name));
COMMENT ON TABLE customers IS 'people';
CREATE TABLE orders (
    order_no bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    customer_email varchar(254) NOT NULL,
    shipping_address text,
    total_cents int NOT NULL DEFAULT 0
);
CREATE ROLE {reader};
GRANT SELECT ON customers TO {reader};
GRANT UPDATE (note) ON customers TO {reader};
INSERT INTO customers (email, full_name, phone, born, note)
SELECT 'person' || g || '@example.com', 'Name' || g || ' Real', '+31 6 ' || lpad(g::text, 8, '0'),
       date '1980-01-01' + g, CASE WHEN g % 2 = 0 THEN 'likes tea' END
FROM generate_series(1, 300) AS g;
INSERT INTO orders (customer_id, customer_email, shipping_address)
SELECT 1 + g % 300, 'person' || (1 + g % 300) || '@example.com', g || ' Real Street'
FROM generate_series(1, 600) AS g;
"""

RULES = [
    {"table": "customers", "columns": {"email": "email", "full_name": "full_name", "phone": "phone",
                                       "born": {"strategy": "shift_date", "days": 20},
                                       "note": {"strategy": "partial", "keep_first": 2}}},
    {"table": "public.orders", "columns": {
        "customer_email": "email",
        "shipping_address": {"strategy": "fake_from_id", "template": "{id} Masked Street"}}},
]


@pytest.fixture()
def app(database, postgres_server, monkeypatch):
    reader = "reader_" + database.name
    database.run(SCHEMA.replace("{reader}", reader))
    monkeypatch.setenv("DBOPS_MASK_SALT", "pytest-salt")
    database.reader = reader
    yield database
    superuser = postgres_server.connect(database.name)  # the master user may not drop roles' grants
    try:
        with superuser.cursor() as cursor:
            cursor.execute("DROP OWNED BY %s; DROP ROLE %s" % (reader, reader))
    finally:
        superuser.close()


def mask(run_module, db, rules=None, check_mode=False, **options):
    args = dict(db.login(), rules=rules or RULES, **options)
    return run_module("mask", args, check_mode=check_mode, profile=None)


def structure(db):
    """Everything a rewrite must carry over, as comparable text."""
    return {
        "constraints": db.run("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                              "FROM pg_constraint WHERE conrelid IN ('customers'::regclass, "
                              "'orders'::regclass) ORDER BY 1, 2"),
        "indexes": db.run("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                          "ORDER BY 1"),
        "defaults": db.run("SELECT table_name, column_name, column_default, is_identity, "
                           "identity_generation FROM information_schema.columns "
                           "WHERE table_schema = 'public' ORDER BY 1, 2"),
        "grants": db.run("SELECT grantee, privilege_type, table_name FROM "
                         "information_schema.role_table_grants WHERE table_schema = 'public' "
                         "ORDER BY 1, 2, 3"),
        "column_grants": db.run("SELECT grantee, privilege_type, column_name FROM "
                                "information_schema.column_privileges WHERE table_name = 'customers' "
                                "AND grantee LIKE 'reader%%' ORDER BY 1, 2, 3"),
        "owned_sequences": db.run("SELECT pg_get_serial_sequence('customers', 'id'), "
                                  "pg_get_serial_sequence('orders', 'order_no')"),
        "comment": db.run("SELECT obj_description('customers'::regclass, 'pg_class')"),
        "owner": db.run("SELECT tableowner FROM pg_tables WHERE tablename = 'customers'"),
    }


def test_rule_problems_are_named():
    cases = [
        ("not a list", "must be a list"),
        ([{"table": "a.b.c", "columns": {"x": "null"}}], "TABLE or SCHEMA.TABLE"),
        ([{"table": "t", "columns": {"x": "scramble"}}], "unknown strategy 'scramble'"),
        ([{"table": "t", "columns": {"x": {"strategy": "constant"}}}], "needs value"),
        ([{"table": "t", "columns": {"x": {"strategy": "hash", "size": 3}}}], "takes no option size"),
        ([{"table": "t", "columns": {"x": {"strategy": "fake_from_id", "template": "x"}}}], "{id}"),
        ([{"table": "t", "columns": {"x": "null"}}, {"table": "public.t", "columns": {"y": "null"}}],
         "two rules"),
        ([{"table": "t", "method": "fast", "columns": {"x": "null"}}], "method must be one of"),
        ([{"table": "t", "columns": {"x": {"strategy": "partial", "fill": "**"}}}], "one character"),
    ]
    for rules, message in cases:
        with pytest.raises(masking.RuleError, match=message.replace("{", r"\{").replace("}", r"\}")):
            masking.normalise_rules(rules)


def test_identifiers_and_constants_are_quoted():
    assert masking.quote_ident('we"ird') == '"we""ird"'
    assert masking.quote_literal("it's") == "'it''s'"
    hostile = {"strategy": "constant", "value": "x'; DROP TABLE t; --"}
    rule = masking.normalise_rules([{"table": "t", "columns": {'a"b': hostile}}])
    expression = masking.masked_expression(rule[0]["columns"][0], {"type": "text"})
    assert expression == "CAST('x''; DROP TABLE t; --' AS text)"


def test_every_strategy_masks_and_keeps_joins(run_module, app):
    before = app.run("SELECT id, email, full_name, phone, born, note FROM customers ORDER BY id")
    result = mask(run_module, app)
    assert not result.failed, result
    assert result.changed
    assert [t["method"] for t in result["tables"]] == ["update", "update"]
    assert all(t["unchanged_in_sample"] == dict.fromkeys(t["unchanged_in_sample"], 0)
               for t in result["tables"])
    after = app.run("SELECT id, email, full_name, phone, born, note FROM customers ORDER BY id")
    originals = {value for row in before for value in row[1:4]}
    for (_id, email, name, phone, born, note), old in zip(after, before):
        assert email.endswith("@masked.invalid") and email.startswith("u") and len(email) == 32
        assert name.split(" ")[1] in masking._LAST_NAMES
        assert phone.startswith("+00 ") and len(phone) == 13
        assert born != old[4] and abs((born - old[4]).days) <= 20
        assert note is None if old[5] is None else note == "li*******"
        assert not {email, name, phone} & originals
    # The keyed hash is deterministic: the copy of the e-mail in orders still joins.
    joined = app.run("SELECT count(*) FROM orders o JOIN customers c ON c.email = o.customer_email "
                     "AND c.id = o.customer_id")
    assert joined == [(600,)]
    assert app.run("SELECT count(*) FROM orders WHERE shipping_address <> order_no || ' Masked Street'") == [(0,)]
    # The record, and a rerun that skips what these rules already masked.
    recorded = app.run("SELECT table_name, column_name, strategy, method, row_count FROM dbops_masking.applied ORDER BY 1, 2")
    assert recorded == [("public.customers", "born", "shift_date", "update", 300),
                        ("public.customers", "email", "email", "update", 300),
                        ("public.customers", "full_name", "full_name", "update", 300),
                        ("public.customers", "note", "partial", "update", 300),
                        ("public.customers", "phone", "phone", "update", 300),
                        ("public.orders", "customer_email", "email", "update", 600),
                        ("public.orders", "shipping_address", "fake_from_id", "update", 600)]
    again = mask(run_module, app)
    assert not again.changed and all(t["skipped"] for t in again["tables"])
    assert app.run("SELECT email FROM customers ORDER BY id") == [(row[1],) for row in after]


def test_a_rerun_with_more_rules_masks_only_what_is_new(run_module, app):
    """A run stopped (by the guard) with one column left out, then rerun with it: the keyed
    columns masked the first time are left alone, so the join still holds."""
    first = [RULES[0], {"table": "orders", "columns": {"customer_email": "email"}}]
    mask(run_module, app, rules=first)
    emails = app.run("SELECT email FROM customers ORDER BY id")
    result = mask(run_module, app)
    assert result.changed
    orders = result["tables"][1]
    assert orders["already_masked"] == ["customer_email"] and orders["columns"] == {"shipping_address": "fake_from_id"}
    assert result["tables"][0]["skipped"]
    assert app.run("SELECT email FROM customers ORDER BY id") == emails
    assert app.run("SELECT count(*) FROM orders o JOIN customers c ON c.email = o.customer_email") == [(600,)]
    changed_rule = [{"table": "orders", "columns": {"customer_email": {"strategy": "email", "domain": "other.invalid"}}}]
    again = mask(run_module, app, rules=changed_rule)
    assert again["tables"][0]["masked_again"] == ["customer_email"]


def test_a_different_salt_gives_different_values(run_module, app, monkeypatch):
    mask(run_module, app, rules=[{"table": "customers", "columns": {"email": "email"}}])
    first = app.run("SELECT email FROM customers WHERE id = 1")
    app.run("DROP SCHEMA dbops_masking CASCADE; UPDATE customers SET email = 'person1@example.com' WHERE id = 1")
    monkeypatch.setenv("DBOPS_MASK_SALT", "another-salt")
    mask(run_module, app, rules=[{"table": "customers", "columns": {"email": "email"}}])
    assert app.run("SELECT email FROM customers WHERE id = 1") != first


def test_rewrite_carries_everything_over_and_masks_like_update(run_module, app, database):
    # Same data and rules, one database masked by UPDATE, the other by rewrite.
    before = structure(app)
    app.run("SELECT nextval('customers_id_seq')")  # the sequence position must survive too
    position = app.run("SELECT last_value FROM customers_id_seq")
    result = mask(run_module, app, rules=[dict(rule, method="rewrite") for rule in RULES])
    assert not result.failed, result
    assert [(t["method"], t["rows"]) for t in result["tables"]] == [("rewrite", 300), ("rewrite", 600)]
    assert structure(app) == before
    assert app.run("SELECT last_value FROM customers_id_seq") == position
    assert app.run("SELECT nextval('customers_id_seq')") == [(position[0][0] + 1,)]
    assert app.run("INSERT INTO orders (customer_id, customer_email) VALUES (1, 'a@b.c') RETURNING order_no") == [(601,)]
    # Foreign keys hold in both directions, and were validated.
    assert app.run("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated") == [(1,)]
    with pytest.raises(Exception, match="foreign key"):
        app.run("INSERT INTO orders (customer_id, customer_email) VALUES (99999, 'x@y.z')")
    with pytest.raises(Exception, match="email_has_at"):
        app.run("UPDATE customers SET email = 'no-at' WHERE id = 1")
    with pytest.raises(Exception, match="customers_email_key"):
        app.run("UPDATE customers SET email = (SELECT email FROM customers WHERE id = 2) WHERE id = 1")
    rewritten = app.run("SELECT email, full_name, phone, born FROM customers ORDER BY id")
    assert app.run("SELECT count(*) FROM pg_class WHERE relname LIKE '%%dbops_masked%%'") == [(0,)]

    database_two = app  # same fixture database: rebuild it and mask by UPDATE to compare values
    database_two.run("DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA dbops_masking CASCADE")
    database_two.run(SCHEMA.replace("CREATE ROLE {reader};", "").replace("{reader}", app.reader))
    mask(run_module, database_two, rules=[dict(rule, method="update") for rule in RULES])
    assert database_two.run("SELECT email, full_name, phone, born FROM customers ORDER BY id") == rewritten


def test_a_failing_table_is_left_as_it_was(run_module, app):
    before = app.run("SELECT * FROM customers ORDER BY id")
    for method in ("update", "rewrite"):
        result = mask(run_module, app, rules=[{"table": "customers", "method": method, "columns": {
            "email": "email", "note": {"strategy": "sql", "expression": "(1 / (id - 7))::text"}}}])
        assert result.failed and "division by zero" in result["msg"], result
        assert app.run("SELECT * FROM customers ORDER BY id") == before
        assert app.run("SELECT count(*) FROM pg_class WHERE relname LIKE '%%dbops_masked%%'") == [(0,)]


def test_bad_rules_fail_before_any_change(run_module, app, monkeypatch):
    before = app.run("SELECT * FROM customers ORDER BY id")
    cases = [
        ([{"table": "customers", "columns": {"email": "email", "mobile": "phone"}}],
         "column public.customers.mobile does not exist"),
        ([{"table": "clients", "columns": {"email": "email"}}], "table public.clients does not exist"),
        ([{"table": "customers", "columns": {"created_at": "email"}}], "needs a text column"),
        ([{"table": "customers", "columns": {"email": "shift_date"}}], "needs a date or timestamp"),
        ([{"table": "orders", "columns": {"customer_id": "hash"}}], "needs a text column"),
    ]
    for rules, message in cases:
        result = mask(run_module, app, rules=rules)
        assert result.failed and message in result["msg"] and "nothing was changed" in result["msg"], result
    monkeypatch.delenv("DBOPS_MASK_SALT")
    result = mask(run_module, app)
    assert result.failed and "DBOPS_MASK_SALT" in result["msg"]
    assert app.run("SELECT * FROM customers ORDER BY id") == before
    assert app.run("SELECT to_regnamespace('dbops_masking')") == [(None,)]


def test_check_mode_plans_without_changing(run_module, app):
    before = app.run("SELECT * FROM customers ORDER BY id")
    result = mask(run_module, app, check_mode=True, rewrite_min_rows=500)
    assert result.changed and not result.failed
    assert [(t["table"], t["method"]) for t in result["tables"]] == [
        ("public.customers", "update"), ("public.orders", "rewrite")]
    assert "under the rewrite threshold of 500" in result["tables"][0]["why"]
    assert app.run("SELECT * FROM customers ORDER BY id") == before


def test_auto_keeps_update_for_a_table_a_view_depends_on(run_module, app):
    app.run("CREATE VIEW order_emails AS SELECT customer_email FROM orders")
    result = mask(run_module, app, rewrite_min_rows=1)
    assert result["tables"][1]["method"] == "update"
    assert "a view or rule depends on it" in result["tables"][1]["why"]
    forced = mask(run_module, app, rules=[dict(RULES[1], method="rewrite")])
    assert forced.failed and "cannot be rewritten: a view or rule depends on it" in forced["msg"]


def test_unlinked_tables_run_side_by_side(app):
    app.run("CREATE TABLE visitors (ip text, seen timestamptz); "
            "INSERT INTO visitors SELECT '10.0.0.' || g, now() FROM generate_series(1, 50) g")
    tables = masking.normalise_rules(RULES + [{"table": "visitors", "columns": {"ip": "hash"}}])
    connection = app.connect()
    with connection.cursor() as cursor:
        groups = masking.foreign_key_groups(cursor, tables)
    connection.close()
    assert sorted([t["table"] for t in group] for group in groups) == [["customers", "orders"], ["visitors"]]


def guard(run_module, db, rules=None, safe=None):
    return run_module("masking_info", dict(db.login(), rules=RULES if rules is None else rules,
                                           safe_columns=safe or []), profile=None)


def test_the_guard_lists_unruled_personal_columns_and_accepts_declared_safe(run_module, app):
    app.run("CREATE TABLE contacts (id int, remarks text); INSERT INTO contacts "
            "SELECT g, 'mail me at p' || g || '@example.org' FROM generate_series(1, 40) g; "
            "INSERT INTO contacts VALUES (41, 'nothing personal')")
    result = guard(run_module, app, rules=[RULES[0]])
    assert not result["ok"]
    found = {(u["table"], u["column"]): u["reason"] for u in result["unruled"]}
    assert found[("public.orders", "customer_email")] == "its name"
    assert found[("public.orders", "shipping_address")] == "its name"
    assert ("public.contacts", "remarks") not in found  # free text around an address: not the shape
    app.run("UPDATE contacts SET remarks = 'p' || id || '@example.org' WHERE id <= 40")
    found = {(u["table"], u["column"]): u["reason"] for u in guard(run_module, app, rules=[RULES[0]])["unruled"]}
    assert found[("public.contacts", "remarks")] == "40 of 41 sampled values look like an email"
    # Declared safe, and ruled: nothing left.
    result = guard(run_module, app, safe=["contacts.remarks"])
    assert result["unruled"] == [] and not result["ok"]  # not masked yet: the rules do not hold
    assert {(u["column"], u["rows_not_masked"]) for u in result["unproven"]} == {
        ("email", 300), ("full_name", 300), ("phone", 300), ("note", 150), ("customer_email", 600),
        ("shipping_address", 600)}
    assert mask(run_module, app).changed
    result = guard(run_module, app, safe=["public.contacts.remarks"])
    assert result["ok"], result
    assert [(m["table"], m["columns"], m["rows"]) for m in result["masked"]] == [
        ("public.customers", ["born", "email", "full_name", "note", "phone"], 300),
        ("public.orders", ["customer_email", "shipping_address"], 600)]


def test_the_guard_finds_a_value_left_behind(run_module, app):
    mask(run_module, app)
    app.run("UPDATE customers SET email = 'leaked@example.com' WHERE id = 5")
    result = guard(run_module, app)
    assert not result["ok"]
    assert result["unproven"] == [{"table": "public.customers", "column": "email", "strategy": "email",
                                   "rows_not_masked": 1}]
    assert "leaked" not in str(result)


def test_quoted_names_work_end_to_end(run_module, database, monkeypatch):
    monkeypatch.setenv("DBOPS_MASK_SALT", "s")
    database.run('CREATE SCHEMA "Sales Data"; CREATE TABLE "Sales Data"."Client List" '
                 '(id int PRIMARY KEY, "E""mail" text); INSERT INTO "Sales Data"."Client List" '
                 "VALUES (1, 'a@b.example'), (2, NULL)")
    rules = [{"table": "Sales Data.Client List", "method": "rewrite", "columns": {'E"mail': "email"}}]
    result = mask(run_module, database, rules=rules)
    assert not result.failed, result
    assert database.run('SELECT id, "E""mail" IS NULL FROM "Sales Data"."Client List" ORDER BY id') == [
        (1, False), (2, True)]


def test_hash_null_constant_and_keep_prefix_on_a_real_table(run_module, database, monkeypatch):
    monkeypatch.setenv("DBOPS_MASK_SALT", "s")
    database.run("CREATE TABLE accounts (id int PRIMARY KEY, iban varchar(34), token text, "
                 "nickname text, tier text, ref char(10)); INSERT INTO accounts VALUES "
                 "(1, 'NL91ABNA0417164300', 'secret-token', 'Bobby', 'gold', 'ABCDEFGHIJ'), "
                 "(2, 'DE89370400440532013000', NULL, NULL, 'silver', NULL)")
    rules = [{"table": "accounts", "columns": {
        "iban": {"strategy": "hash", "length": 20}, "token": "null",
        "nickname": {"strategy": "keep_prefix", "keep": 1, "fill": "#"},
        "tier": {"strategy": "constant", "value": "standard"}, "ref": "hash"}}]
    result = mask(run_module, database, rules=rules)
    assert not result.failed, result
    rows = database.run("SELECT id, iban, token, nickname, tier, ref FROM accounts ORDER BY id")
    (first, second) = rows
    assert len(first[1]) == 20 and set(first[1]) <= set("0123456789abcdef") and first[1] != second[1]
    assert first[2] is None and first[3] == "B####" and second[3] is None
    assert first[4] == second[4] == "standard"
    assert len(first[5]) == 10  # char(10): the hash is cut to the column's length
    # The same value hashes the same in another table (joins on it keep working).
    database.run("CREATE TABLE transfers (id int PRIMARY KEY, iban varchar(34)); "
                 "INSERT INTO transfers VALUES (1, 'NL91ABNA0417164300')")
    mask(run_module, database, rules=[{"table": "transfers", "columns": {"iban": {"strategy": "hash", "length": 20}}}])
    assert database.run("SELECT iban FROM transfers") == [(first[1],)]
    guard_result = guard(run_module, database, rules=rules + [
        {"table": "transfers", "columns": {"iban": {"strategy": "hash", "length": 20}}}])
    assert guard_result["ok"], guard_result


@pytest.mark.parametrize("table", [
    "codes (id int PRIMARY KEY, region int, code text)",
    "codes (id int, region int, code text, PRIMARY KEY (id, region))",
    "codes (id int, region int, code text)",
])
def test_the_sample_proof_counts_values_left_as_they_were(run_module, database, table):
    """A rule that gives back the original (here a template equal to the data) is caught, by
    primary key (one column or several) or, without one, by value."""
    database.run("CREATE TABLE %s; INSERT INTO codes SELECT g, 1, 'c' || g FROM generate_series(1, 30) g" % table)
    template = {"strategy": "fake_from_id", "template": "c{id}", "id_column": "id"}
    result = mask(run_module, database, rules=[{"table": "codes", "columns": {"code": template}}], sample_size=10)
    assert not result.failed, result
    assert result["tables"][0]["sampled"] == 10
    assert result["tables"][0]["unchanged_in_sample"] == {"code": 10}
