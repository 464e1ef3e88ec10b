"""The migrate scenario's source: a plain PostgreSQL server (not an emulated cluster), as a team's
self-managed database would be, with data, a free-standing sequence, foreign keys and an owner
role that does not exist on the target.

    source_server.py up --root DIR [--rows N]   start it, load the data, print {"port": ..., "pid": ...}
    source_server.py down --root DIR            stop it by PID, remove DIR

Stopped by PID from DIR/servers (tests/emulator's registry), never by name.  The data lives in
a directory of /tmp named in DIR/data_root, removed by down.
"""

import argparse
import glob
import json
import os
import shutil
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "emulator"))
from aws_emulator import postgres  # noqa: E402  pylint: disable=wrong-import-position

ADMIN, PASSWORD, DATABASE = "legacy_admin", "legacy-source-password", "shop"

# Owned by legacy_owner, granted to legacy_reader: neither role exists on the target.
DATA = """
CREATE ROLE legacy_owner NOLOGIN;
CREATE ROLE legacy_reader NOLOGIN;
CREATE SCHEMA sales AUTHORIZATION legacy_owner;
GRANT CREATE ON SCHEMA public TO legacy_owner;
SET ROLE legacy_owner;
CREATE TABLE public.customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, city text);
CREATE INDEX customers_city_idx ON public.customers (city);
CREATE TABLE sales.orders (id bigserial PRIMARY KEY,
                           customer_id bigint NOT NULL REFERENCES public.customers (id),
                           total_cents int NOT NULL CHECK (total_cents >= 0));
CREATE TABLE public.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text, at timestamptz);
CREATE INDEX events_kind_idx ON public.events (kind, at);
CREATE TABLE public.audit_log (id serial PRIMARY KEY, line text);
CREATE SEQUENCE public.invoice_numbers START 1000;
CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total_cents > 10000;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO legacy_reader;
INSERT INTO public.customers (email, city)
SELECT 'c' || g || '@example.com', 'city' || (g % 40) FROM generate_series(1, 5000) AS g;
INSERT INTO sales.orders (customer_id, total_cents) SELECT 1 + g % 5000, g FROM generate_series(1, 20000) AS g;
INSERT INTO public.events (kind, at)
SELECT 'kind' || (g % 17), timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, {rows}) AS g;
INSERT INTO public.audit_log (line) SELECT 'line ' || g FROM generate_series(1, 300) AS g;
SELECT setval('public.invoice_numbers', 4242);
RESET ROLE;
"""


def up(root, rows):
    """The state (registry, source.json) goes under root; the data in a directory of /tmp the
    server user can reach (root's home directory is closed to it)."""
    os.makedirs(os.path.join(root, "servers"), exist_ok=True)
    fleet, data_root = postgres.standalone_fleet("dbops-migrate-source-", os.path.join(root, "servers"))
    with open(os.path.join(root, "data_root"), "w", encoding="utf-8") as handle:
        handle.write(data_root)
    server = fleet.new_server("legacy-source", ADMIN, PASSWORD, DATABASE)
    connection = server.connect(DATABASE)
    try:
        with connection.cursor() as cursor:
            cursor.execute(DATA.replace("{rows}", str(int(rows))))
            cursor.execute("ANALYZE")
    finally:
        connection.close()
    result = {"port": server.port, "pid": server.pid, "user": ADMIN, "password": PASSWORD, "database": DATABASE}
    with open(os.path.join(root, "source.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    print(json.dumps(result))


def down(root):
    for registry in glob.glob(os.path.join(root, "servers", "*.json")):
        with open(registry, encoding="utf-8") as handle:
            postgres.stop_pid(json.load(handle)["pid"])
        os.remove(registry)
    try:
        with open(os.path.join(root, "data_root"), encoding="utf-8") as handle:
            shutil.rmtree(handle.read().strip(), ignore_errors=True)
    except FileNotFoundError:
        pass
    shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--root", required=True)
    parser.add_argument("--rows", type=int, default=200000, help="rows of public.events")
    args = parser.parse_args()
    if args.command == "up":
        up(args.root, args.rows)
    else:
        down(args.root)


if __name__ == "__main__":
    main()
