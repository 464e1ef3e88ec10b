"""Print what `make demo` did: the snapshot restored, the rows, a masked row, the downtime,
and proof that production's password does not open acceptance."""

import json
import sys

import boto3
import psycopg2


def secret(profile, arn_parameter):
    session = boto3.Session(profile_name=profile)
    arn = session.client("ssm").get_parameter(Name=arn_parameter)["Parameter"]["Value"]
    return json.loads(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def connect(host, port, user, password, dbname):
    return psycopg2.connect(host=host, port=port, user=user, password=password, dbname=dbname,
                            connect_timeout=5)


def main(report_path):
    with open(report_path, encoding="utf-8") as handle:
        report = json.load(handle)
    acceptance = secret("acceptance", "/app/acceptance/db-credentials-arn")
    production = secret("production", "/app/production/db-credentials-arn")
    with connect(acceptance["host"], acceptance["port"], acceptance["username"],
                 acceptance["password"], acceptance["dbname"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers")
        customers = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM words")
        words = cur.fetchone()[0]
        cur.execute("SELECT id, email, full_name, phone FROM customers ORDER BY id LIMIT 1")
        masked = cur.fetchone()
        cur.execute("SELECT count(*) FROM customers WHERE email NOT LIKE '%@masked.invalid'")
        unmasked = cur.fetchone()[0]
        cur.execute("SELECT count(*), count(*) FILTER (WHERE c.id IS NULL) FROM orders o "
                    "LEFT JOIN customers c ON c.email = o.customer_email")
        orders, orders_unjoined = cur.fetchone()
    try:
        connect(acceptance["host"], acceptance["port"], production["username"],
                production["password"], acceptance["dbname"]).close()
        production_password = "OPENS ACCEPTANCE (this is a bug)"
    except psycopg2.OperationalError:
        production_password = "refused by acceptance, as it must be"
    lines = [
        "",
        "==================== dbops.aurora demo: acceptance refreshed ====================",
        "status              %s" % report["status"],
        "snapshot restored   %s" % report["snapshot"],
        "serving cluster     %s (%s:%s)" % (
            report["canonical"], acceptance["host"], acceptance["port"]),
        "previous kept as    %s" % report["previous_kept_as"],
        "rows in acceptance  customers=%d, words=%d (unmasked e-mails: %d)" % (
            customers, words, unmasked),
        "example masked row  %s" % (masked,),
        "orders              %d, joined to their customer by masked e-mail: %d" % (
            orders, orders - orders_unjoined),
        "masking             %s" % "; ".join(
            "%s by %s: %s" % (t["table"], t["method"], ("%s rows in %s s" % (t["rows"], t["seconds"]))
                              if "rows" in t else "skipped")
            for t in report.get("masking", [])),
        "masking guard       %s" % json.dumps(report.get("masking_guard", {})),
        "downtime            %.2f s without a cluster at %s" % (
            float(report["downtime_seconds"]), report["canonical"]),
        "seconds per step    %s" % json.dumps(report["durations_seconds"]),
        "production password %s" % production_password,
        "==================================================================================",
    ]
    print("\n".join(lines))
    return 0 if unmasked == 0 and orders_unjoined == 0 and "refused" in production_password else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
