"""The emulator process: moto's server over HTTP, patched for Aurora PostgreSQL and
cross-account cloning (RDS, RAM, KMS), plus two accounts, fault injection and API call
counting.  Started by ``aws-emulator up``."""

import argparse
import io
import json
import os
import random
import signal
import sys
import threading
import urllib.parse

from moto.iam.models import get_account_id_from, iam_backends
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from aws_emulator import kms, ram, rds
from aws_emulator.postgres import PostgresFleet

ACCOUNTS = {"production": "111111111111", "acceptance": "222222222222"}
CONTROL_PREFIX = "/_emulator/"
# moto's own control API (reset, reset-auth...): passed through, not counted as AWS calls.
MOTO_API_PREFIX = "/moto-api/"


def create_accounts(region):
    """One IAM user with an access key per account: moto maps each key to its account."""
    profiles = {}
    for profile, account_id in ACCOUNTS.items():
        iam = iam_backends[account_id]["aws"]
        user_name = "dbops-%s" % profile
        iam.create_user(region, user_name)
        key = iam.create_access_key(user_name)
        profiles[profile] = (key.access_key_id, key.secret_access_key)
    return profiles


def write_aws_files(aws_dir, profiles, region):
    os.makedirs(aws_dir, exist_ok=True)
    with open(os.path.join(aws_dir, "credentials"), "w", encoding="utf-8") as creds:
        for profile, (key_id, secret) in profiles.items():
            creds.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
                        % (profile, key_id, secret))
    with open(os.path.join(aws_dir, "config"), "w", encoding="utf-8") as config:
        for profile in profiles:
            config.write("[profile %s]\nregion = %s\noutput = json\n\n" % (profile, region))


class Counter:
    """AWS API calls seen: by action (``calls``, what tests and benchmarks count), and by the
    caller's account and IAM action (``service:Action``, the service from the request's SigV4
    credential scope), with the calls moto answered 403 (denied by IAM enforcement) apart."""

    def __init__(self):
        self.calls = {}
        self.accounts = {}
        self.denied = {}
        self.lock = threading.Lock()

    def add(self, action, account=None, iam_action=None):
        with self.lock:
            self.calls[action] = self.calls.get(action, 0) + 1
            if account and iam_action:
                per_account = self.accounts.setdefault(account, {})
                per_account[iam_action] = per_account.get(iam_action, 0) + 1

    def add_denied(self, account, iam_action):
        with self.lock:
            per_account = self.denied.setdefault(account, {})
            per_account[iam_action] = per_account.get(iam_action, 0) + 1

    def snapshot(self, reset=False):
        with self.lock:
            calls = dict(self.calls)
            accounts = {account: dict(actions) for account, actions in self.accounts.items()}
            denied = {account: dict(actions) for account, actions in self.denied.items()}
            if reset:
                self.calls.clear()
                self.accounts.clear()
                self.denied.clear()
        return {"total": sum(calls.values()), "calls": calls, "accounts": accounts,
                "denied": denied}


# S3 is REST: its action is the method and a subresource of the query string.  The IAM action
# each needs, as AWS documents it (moto's own S3 check uses a coarser map of its own).
_S3_BUCKET_SUBRESOURCES = {
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration",
                   "PutEncryptionConfiguration"),
    "inventory": ("GetInventoryConfiguration", "PutInventoryConfiguration",
                  "PutInventoryConfiguration"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration",
                  "PutLifecycleConfiguration"),
    "location": ("GetBucketLocation", None, None),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls",
                          "PutBucketOwnershipControls"),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock",
                          "PutBucketPublicAccessBlock"),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "versions": ("ListBucketVersions", None, None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
}
_S3_OBJECT_SUBRESOURCES = {
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
}
_S3_DEFAULTS = {  # method: (on the service, on a bucket, on an object)
    "GET": ("ListAllMyBuckets", "ListBucket", "GetObject"),
    "HEAD": ("ListAllMyBuckets", "ListBucket", "GetObject"),
    "PUT": (None, "CreateBucket", "PutObject"),
    "DELETE": (None, "DeleteBucket", "DeleteObject"),
    "POST": (None, "DeleteObject", "PutObject"),  # POST ?delete: DeleteObjects; uploads: PutObject
}


def _s3_action(method, path, query_string, body=b""):
    """The IAM action of a path-style S3 request (an endpoint URL makes botocore use that style)."""
    parts = [part for part in path.split("/") if part]
    query = urllib.parse.parse_qs(query_string, keep_blank_values=True)
    level = min(len(parts), 2)  # 0: the service, 1: a bucket, 2: an object
    subresources = (_S3_OBJECT_SUBRESOURCES if level == 2 else _S3_BUCKET_SUBRESOURCES)
    verbs = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2}
    for name, actions in subresources.items():
        if name in query and method in verbs and actions[verbs[method]]:
            return actions[verbs[method]]
    if level == 2 and "versionId" in query and method in ("GET", "HEAD", "DELETE"):
        return "DeleteObjectVersion" if method == "DELETE" else "GetObjectVersion"
    if level == 2 and "uploadId" in query and method == "DELETE":
        return "AbortMultipartUpload"
    if level == 1 and method == "POST" and "delete" in query and b"<VersionId>" in body:
        return "DeleteObjectVersion"  # DeleteObjects naming versions: AWS checks this per object
    action = _S3_DEFAULTS.get(method, (None, None, None))[level]
    return action or "%s %s" % (method, path)


def _action(environ, body):
    if _credential_scope(environ)[1] == "s3":
        return _s3_action(environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", ""),
                          environ.get("QUERY_STRING", ""), body)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1]
    for source in (body.decode("utf-8", "replace"), environ.get("QUERY_STRING", "")):
        values = urllib.parse.parse_qs(source)
        if "Action" in values:
            return values["Action"][0]
    return "%s %s" % (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))


def _credential_scope(environ):
    """(access key id, service) from a SigV4 Authorization header, or (None, None) unsigned.

    The header reads ``AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
    SignedHeaders=..., Signature=...``; moto's IAM enforcement takes the service from the same
    place, so ``service:Action`` here is what a policy must allow."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    credential = authorization.partition("Credential=")[2].partition(",")[0]
    parts = credential.split("/")
    if len(parts) < 5:
        return None, None
    return parts[0], parts[3]


def _caller(environ, action):
    """(account id, ``service:Action``) of a signed call, or (None, None)."""
    access_key, service = _credential_scope(environ)
    if not access_key:
        return None, None
    # The account moto itself maps the access key to (an unknown key: moto's default account).
    return get_account_id_from(access_key), "%s:%s" % (service, action)


FAULTS = {
    400: ("400 Bad Request", "Sender", "Throttling", "ThrottlingException", "Rate exceeded"),
    503: ("503 Service Unavailable", "Receiver", "ServiceUnavailable",
          "ServiceUnavailableException", "Service unavailable (injected by the emulator)"),
}


def _fault_response(environ, start_response, status):
    """An AWS error in the request's own protocol: JSON for SSM and friends, XML for RDS."""
    line, kind, query_code, json_code, message = FAULTS[status]
    if "json" in environ.get("CONTENT_TYPE", ""):
        body = json.dumps({"__type": json_code, "message": message})
        content_type = "application/x-amz-json-1.1"
    else:
        body = ("<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message>"
                "</Error><RequestId>emulator-fault</RequestId></ErrorResponse>"
                % (kind, query_code, message))
        content_type = "text/xml"
    start_response(line, [("Content-Type", content_type)])
    return [body.encode("utf-8")]


class EmulatorApp:
    """WSGI wrapper: control endpoints, call counting and logging, injected faults, then moto."""

    def __init__(self, moto_app, counter, on_shutdown, seed=None):
        self.moto_app = moto_app
        self.counter = counter
        self.on_shutdown = on_shutdown
        self.random = random.Random(seed)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(path[len(CONTROL_PREFIX):], environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if path.startswith(MOTO_API_PREFIX):
            return self.moto_app(environ, start_response)
        action = _action(environ, body)
        account, iam_action = _caller(environ, action)
        self.counter.add(action, account, iam_action)
        settings = rds.SETTINGS
        roll = self.random.random()
        if roll < settings.throttle_rate:
            return _fault_response(environ, start_response, 400)
        if roll < settings.throttle_rate + settings.error_rate:
            return _fault_response(environ, start_response, 503)
        if account is None:
            return self.moto_app(environ, start_response)

        def recording_start_response(status, headers, exc_info=None):
            # 403 is how moto answers a call IAM enforcement denies (AccessDenied).
            if status.startswith("403"):
                self.counter.add_denied(account, iam_action)
            return start_response(status, headers, exc_info)

        return self.moto_app(environ, recording_start_response)

    def control(self, name, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if name == "health":
            payload = {"status": "ok", "accounts": ACCOUNTS}
        elif name == "config":
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                update = json.loads(environ["wsgi.input"].read(length) or b"{}")
                with rds.SETTINGS.lock:
                    for key, value in update.items():
                        if key == "seed":
                            self.random.seed(value)
                        elif key in rds.SETTINGS.as_dict():
                            setattr(rds.SETTINGS, key, float(value))
                        else:
                            return self._json(start_response, "400 Bad Request",
                                              {"error": "unknown setting %s" % key})
            payload = rds.SETTINGS.as_dict()
        elif name == "calls":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            payload = self.counter.snapshot(reset="reset" in query or method == "DELETE")
        elif name == "available":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            payload = rds.AVAILABILITY.snapshot(reset="reset" in query or method == "DELETE")
        elif name == "servers":
            payload = _servers()
        elif name == "shutdown" and method == "POST":
            threading.Thread(target=self.on_shutdown, daemon=True).start()
            payload = {"status": "stopping"}
        else:
            return self._json(start_response, "404 Not Found", {"error": "no such endpoint"})
        return self._json(start_response, "200 OK", payload)

    @staticmethod
    def _json(start_response, status, payload):
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(payload).encode("utf-8")]


def _servers():
    servers = []
    for account_id, account in list(rds.rds_models.rds_backends.items()):
        for region, backend in list(account.items()):
            for cluster in list(backend.clusters.values()):
                server = cluster.__dict__.get("emulator_server")
                if server is not None:
                    servers.append({"account_id": account_id, "region": region,
                                    "cluster": cluster.db_cluster_identifier,
                                    "port": server.port, "pid": server.pid})
    return servers


def stop_all_servers():
    for account in list(rds.rds_models.rds_backends.values()):
        for backend in list(account.values()):
            for cluster in list(backend.clusters.values()):
                server = cluster.__dict__.get("emulator_server")
                if server is not None:
                    server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--pg-root", required=True)
    parser.add_argument("--socket-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--creating-seconds", type=float, default=0.0)
    for kind in rds.SETTINGS.KINDS:
        parser.add_argument("--%s-seconds" % kind, type=float, default=-1.0)
    parser.add_argument("--restore-seconds-per-mb", type=float, default=0.0)
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    registry = os.path.join(args.state_dir, "servers")
    fleet = PostgresFleet(args.pg_root, args.socket_dir, registry)
    rds.install(fleet)
    kms.install()
    ram.install()  # before the app: moto builds its RAM routes from ram's url_paths
    rds.SETTINGS.creating_seconds = args.creating_seconds
    for kind in rds.SETTINGS.KINDS:
        setattr(rds.SETTINGS, "%s_seconds" % kind, getattr(args, "%s_seconds" % kind))
    rds.SETTINGS.restore_seconds_per_mb = args.restore_seconds_per_mb
    rds.SETTINGS.throttle_rate = args.throttle_rate
    rds.SETTINGS.error_rate = args.error_rate

    profiles = create_accounts(args.region)
    write_aws_files(os.path.join(args.state_dir, "aws"), profiles, args.region)

    counter = Counter()
    holder = {}

    def shutdown():
        holder["server"].shutdown()

    app = EmulatorApp(DomainDispatcherApplication(create_backend_app), counter, shutdown,
                      seed=args.seed)
    server = make_server("127.0.0.1", args.port, app, threaded=True,
                         request_handler=MotoRequestHandler)
    holder["server"] = server
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=shutdown).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=shutdown).start())
    print("emulator listening on 127.0.0.1:%d" % args.port, flush=True)
    try:
        server.serve_forever()
    finally:
        stop_all_servers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
