"""Aurora PostgreSQL on moto, backed by real PostgreSQL servers, and moto's cross-account gaps.

Each patch below reproduces one documented AWS behaviour that moto 5 lacks; the emulator
tests (tests/unit/test_emulator.py) state that behaviour and prove it end to end.

- A cluster (engine aurora-postgresql) gets its own PostgreSQL server; Endpoint and
  ReaderEndpoint are 127.0.0.1 and Port is that server's port.
- ModifyDBCluster with MasterUserPassword changes the password on the server.
- CreateDBClusterSnapshot takes a pg_basebackup; CopyDBClusterSnapshot copies it;
  RestoreDBClusterFromSnapshot starts a new server from it.
- AWS: a snapshot shared with an account (``restore`` attribute) can be copied and restored
  by that account using the snapshot's ARN.  Moto looks ARNs up in the caller's account.
- AWS: DescribeDBClusterSnapshots with SnapshotType=shared reports the snapshot's ARN as its
  DBClusterSnapshotIdentifier, and pages results (MaxRecords 20-100, default 100, Marker).
- AWS: a restored cluster takes tags, deletion protection and the like from the request, not
  from the snapshot's source cluster.
- AWS: StorageEncrypted without KmsKeyId uses the account's AWS-managed ``aws/rds`` key.
- Optional: clusters, instances and snapshots stay ``creating`` (a renamed cluster
  ``renaming``) for a configured number of seconds, set for all or per kind; the moment each
  turns ``available`` is logged (AVAILABILITY) for benchmarks.
"""

import collections
import threading
import time

from moto.kms.models import kms_backends
from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import (
    InvalidParameterValue,
    RDSClientError,
)

POSTGRES_ENGINES = ("aurora-postgresql", "postgres")


class EmulatorSettings:
    """Knobs a test can turn at run time (POST /_emulator/config).

    ``creating_seconds`` delays every new cluster, instance and snapshot and every rename; a
    per-kind delay (``snapshot_seconds`` for snapshots and their copies, ``cluster_seconds``,
    ``instance_seconds``, ``rename_seconds``) overrides it for its kind when not negative, so a
    test can give operations real proportions (a snapshot taking minutes, a rename seconds)."""

    KINDS = ("snapshot", "cluster", "instance", "rename")

    def __init__(self):
        self.creating_seconds = 0.0
        self.snapshot_seconds = -1.0
        self.cluster_seconds = -1.0
        self.instance_seconds = -1.0
        self.rename_seconds = -1.0
        self.throttle_rate = 0.0
        self.error_rate = 0.0
        self.lock = threading.RLock()

    def seconds_for(self, kind):
        seconds = getattr(self, "%s_seconds" % kind)
        return self.creating_seconds if seconds < 0 else seconds

    def as_dict(self):
        settings = {"creating_seconds": self.creating_seconds,
                    "throttle_rate": self.throttle_rate, "error_rate": self.error_rate}
        for kind in self.KINDS:
            settings["%s_seconds" % kind] = getattr(self, "%s_seconds" % kind)
        return settings


SETTINGS = EmulatorSettings()
FLEET = {"fleet": None}


def _fleet():
    return FLEET["fleet"]


class AvailabilityLog:
    """When each delayed resource turns ``available`` (wall clock, seconds since the epoch),
    for benchmarks that measure how long a waiter takes to notice (GET /_emulator/available)."""

    NAMES = {"cluster": "db_cluster_identifier", "db": "db_instance_identifier",
             "cluster-snapshot": "db_cluster_snapshot_identifier"}
    KINDS = {"cluster": "cluster", "db": "instance", "cluster-snapshot": "snapshot"}

    def __init__(self, limit=10000):
        self.entries = collections.deque(maxlen=limit)
        self.lock = threading.Lock()

    def add(self, resource, status, seconds):
        kind = getattr(resource, "resource_type", "")
        since = time.time()
        entry = {"kind": self.KINDS.get(kind, kind), "account_id": resource.account_id,
                 "identifier": getattr(resource, self.NAMES.get(kind, ""), None),
                 "status": status, "since": since, "available_at": since + seconds}
        if kind == "db":
            entry["cluster"] = getattr(resource, "db_cluster_identifier", None)
        with self.lock:
            self.entries.append(entry)

    def snapshot(self, reset=False):
        with self.lock:
            entries = list(self.entries)
            if reset:
                self.entries.clear()
        return {"resources": entries}


AVAILABILITY = AvailabilityLog()


def _busy(resource, status, kind):
    """Report ``status`` instead of the real one for the seconds configured for ``kind``."""
    seconds = SETTINGS.seconds_for(kind)
    if seconds > 0:
        resource.emulator_busy = (status, time.monotonic() + seconds)
        AVAILABILITY.add(resource, status, seconds)
        if resource.__dict__.get("_status") == "creating":
            # moto reports a new cluster `creating` once more, on the first read: the delay
            # stands for that, so the cluster is `available` as soon as it ends.
            resource.__dict__["_status"] = "available"


def _busy_status(resource):
    busy = resource.__dict__.get("emulator_busy")
    if busy and time.monotonic() < busy[1]:
        return busy[0]
    return None


def _default_rds_key_arn(backend):
    kms = kms_backends[backend.account_id][backend.region_name]
    key = kms.describe_key("alias/aws/rds")
    key.key_manager = "AWS"
    return key.arn


def _server_of(cluster):
    return cluster.__dict__.get("emulator_server")


# --- cluster creation, restore, modification and deletion ------------------------------

_original_create_cluster = rds_models.RDSBackend.create_db_cluster
_original_modify_cluster = rds_models.RDSBackend.modify_db_cluster
_original_delete_cluster = rds_models.RDSBackend.delete_db_cluster
_original_create_cluster_snapshot = rds_models.RDSBackend.create_db_cluster_snapshot
_original_copy_cluster_snapshot = rds_models.RDSBackend.copy_db_cluster_snapshot
_original_delete_cluster_snapshot = rds_models.RDSBackend.delete_db_cluster_snapshot


def _prepare_encryption(backend, kwargs):
    if kwargs.get("storage_encrypted") and not kwargs.get("kms_key_id"):
        kwargs["kms_key_id"] = _default_rds_key_arn(backend)
    elif kwargs.get("kms_key_id"):
        kwargs["kms_key_id"] = backend._validate_kms_key(kwargs["kms_key_id"])
        kwargs["storage_encrypted"] = True


def _attach_server(backend, cluster, start_server):
    if cluster.engine not in POSTGRES_ENGINES or _fleet() is None:
        return cluster
    try:
        server = start_server()
    except Exception as error:
        backend.clusters.pop(cluster.db_cluster_identifier, None)
        raise RDSClientError("InternalFailure",
                             "emulator could not start PostgreSQL: %s" % error) from error
    cluster.emulator_server = server
    cluster.port = server.port
    _busy(cluster, "creating", "cluster")
    return cluster


def create_db_cluster(self, kwargs):
    if kwargs["db_cluster_identifier"] in self.clusters:
        raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
    _prepare_encryption(self, kwargs)
    cluster = _original_create_cluster(self, kwargs)
    return _attach_server(self, cluster, lambda: _fleet().new_server(
        cluster.db_cluster_identifier, cluster.master_username,
        cluster._master_user_password, cluster.database_name))


# Settings a restored cluster takes from its snapshot; everything else comes from the
# request or AWS defaults, never from the source cluster (its tags, deletion protection...).
_FROM_SNAPSHOT = ("engine", "engine_version", "master_username", "database_name",
                  "storage_encrypted", "kms_key_id", "engine_mode")


def restore_db_cluster_from_snapshot(self, from_snapshot_id, overrides):
    snapshot = self.get_db_cluster_snapshot(from_snapshot_id)
    if _busy_status(snapshot) or snapshot.status != "available":
        raise RDSClientError("InvalidDBClusterSnapshotStateFault",
                             "Snapshot %s is not available" % from_snapshot_id)
    if overrides["db_cluster_identifier"] in self.clusters:
        raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
    source = snapshot.cluster
    props = {name: getattr(snapshot, name, None) or getattr(source, name, None)
             for name in _FROM_SNAPSHOT}
    props["master_user_password"] = source._master_user_password
    for key, value in overrides.items():
        if value is not None and key != "snapshot_identifier":
            props[key] = value
    if overrides.get("kms_key_id"):
        props["kms_key_id"] = self._validate_kms_key(overrides["kms_key_id"])
    data = _snapshot_data(self, snapshot) if props["engine"] in POSTGRES_ENGINES else None
    cluster = _original_create_cluster(self, props)
    return _attach_server(self, cluster, lambda: _fleet().server_from_snapshot(
        data, cluster.db_cluster_identifier))


def modify_db_cluster(self, kwargs):
    cluster_id = kwargs["db_cluster_identifier"]
    cluster = self.clusters.get(cluster_id)
    if cluster is None:
        raise rds_models.DBClusterNotFoundError(cluster_id)
    new_id = kwargs.get("new_db_cluster_identifier")
    if new_id:
        self._validate_db_identifier(new_id)
        if new_id.lower() != cluster_id.lower() and new_id.lower() in self.clusters:
            raise RDSClientError("DBClusterAlreadyExistsFault",
                                 "DB Cluster %s already exists" % new_id)
    password = kwargs.get("master_user_password")
    server = _server_of(cluster)
    if password and server is not None:
        if len(password) < 8:
            raise InvalidParameterValue("The parameter MasterUserPassword is not a valid "
                                        "password because it is shorter than 8 characters.")
        server.set_password(cluster.master_username, password)
    # AWS: the instances stay members of a renamed cluster (moto forgets them).
    members = [db for db in self.databases.values()
               if (getattr(db, "db_cluster_identifier", None) or "").lower() == cluster_id.lower()]
    result = _original_modify_cluster(self, kwargs)
    if new_id:
        for member in members:
            member.db_cluster_identifier = cluster.db_cluster_identifier
        _busy(cluster, "renaming", "rename")
        if server is not None:
            server.rename(cluster.db_cluster_identifier)
    return result


def delete_db_cluster(self, cluster_identifier, snapshot_name=None):
    cluster = self.clusters.get(cluster_identifier)
    server = _server_of(cluster) if cluster is not None else None
    if snapshot_name and server is not None:
        create_db_cluster_snapshot(self, cluster_identifier, snapshot_name)
        snapshot_name = None
    result = _original_delete_cluster(self, cluster_identifier, snapshot_name)
    # AWS deletes a cluster's automated backups with it (unless asked to retain them).
    for name, snapshot in list(self.cluster_snapshots.items()):
        if snapshot.snapshot_type == "automated" and \
                snapshot.db_cluster_identifier == cluster_identifier.lower():
            delete_db_cluster_snapshot(self, name)
    if server is not None:
        server.destroy()
    return result


# --- snapshots -------------------------------------------------------------------------

def create_db_cluster_snapshot(self, db_cluster_identifier, db_cluster_snapshot_identifier,
                               snapshot_type="manual", tags=None):
    snapshot = _original_create_cluster_snapshot(
        self, db_cluster_identifier, db_cluster_snapshot_identifier, snapshot_type, tags)
    server = _server_of(self.clusters[db_cluster_identifier])
    if server is not None:
        try:
            snapshot.emulator_data = server.snapshot()
        except Exception as error:
            self.cluster_snapshots.pop(snapshot.db_cluster_snapshot_identifier, None)
            raise RDSClientError("InternalFailure",
                                 "emulator could not snapshot PostgreSQL: %s" % error) from error
        _busy(snapshot, "creating", "snapshot")
    return snapshot


def copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier,
                             target_db_cluster_snapshot_identifier, kms_key_id=None,
                             copy_tags=False, tags=None, **kwargs):
    source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
    if _busy_status(source) or source.status != "available":
        raise RDSClientError("InvalidDBClusterSnapshotStateFault",
                             "Snapshot %s is not available"
                             % source_db_cluster_snapshot_identifier)
    if source.encrypted and source.backend.account_id != self.account_id and not kms_key_id:
        raise InvalidParameterValue("KmsKeyId is required to copy an encrypted snapshot "
                                    "shared from another account")
    snapshot = _original_copy_cluster_snapshot(
        self, source_db_cluster_snapshot_identifier, target_db_cluster_snapshot_identifier,
        kms_key_id=kms_key_id, copy_tags=copy_tags, tags=tags, **kwargs)
    snapshot.source_db_cluster_snapshot_arn = source.arn
    data = _snapshot_data(self, source)
    if data:
        snapshot.emulator_data = _fleet().copy_snapshot(data)
        _busy(snapshot, "copying", "snapshot")
    return snapshot


def _snapshot_data(backend, snapshot):
    """The snapshot's physical copy.  Moto takes a cluster's automated snapshot before the
    cluster has a server, so its copy is taken the first time it is needed."""
    data = snapshot.__dict__.get("emulator_data")
    if data or _fleet() is None:
        return data
    owner = snapshot.backend if hasattr(snapshot, "backend") else backend
    cluster = owner.clusters.get(snapshot.db_cluster_identifier)
    server = _server_of(cluster) if cluster is not None else None
    if server is None:
        if snapshot.engine in POSTGRES_ENGINES:
            raise RDSClientError("InvalidDBClusterSnapshotStateFault",
                                 "emulator: snapshot %s holds no data (its cluster has no "
                                 "PostgreSQL server any more)"
                                 % snapshot.db_cluster_snapshot_identifier)
        return None
    snapshot.emulator_data = server.snapshot()
    return snapshot.emulator_data


def save_automated_backup(self):
    """As AWS names them (one a minute at most); moto fails on the second in a minute."""
    snapshot_id = "rds:%s-%s" % (self.db_cluster_identifier,
                                 rds_models.utcnow().strftime("%Y-%m-%d-%H-%M"))
    if snapshot_id not in self.backend.cluster_snapshots:
        self.backend.create_auto_cluster_snapshot(self.db_cluster_identifier, snapshot_id)


def delete_db_cluster_snapshot(self, db_snapshot_identifier):
    snapshot = _original_delete_cluster_snapshot(self, db_snapshot_identifier)
    if "emulator_data" in snapshot.__dict__:
        _fleet().remove_snapshot(snapshot.emulator_data)
    return snapshot


def _shared_with(snapshot, account_id):
    restore = snapshot.attributes.get("restore", [])
    return account_id in restore or "all" in restore


def get_snapshot(self, identifier, resource_type, not_found_exception):
    """Look a snapshot up by name in this account, or by ARN in the owner's account."""
    region, account = self.region_name, self.account_id
    name = identifier
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) != 7:
            raise not_found_exception(identifier)
        region, account, name = parts[3], parts[4], parts[6]
    backend = self.get_backend("rds", region=region, account_id=account)
    snapshots = backend.resource_map[resource_type]
    snapshot = snapshots.get(name.lower())
    if snapshot is None or (account != self.account_id
                            and not _shared_with(snapshot, self.account_id)):
        raise not_found_exception(identifier)
    return snapshot


class SharedSnapshotView:
    """A snapshot as the account it is shared with sees it: identified by its ARN."""

    def __init__(self, snapshot):
        self._snapshot = snapshot

    def __getattr__(self, name):
        return getattr(self._snapshot, name)

    @property
    def db_cluster_snapshot_identifier(self):
        return self._snapshot.arn


def get_shared_snapshots(self, resource_type):
    shared = []
    for account_backends in rds_models.rds_backends.values():
        backend = account_backends.get(self.region_name) if hasattr(account_backends, "get") \
            else None
        if backend is None or backend.account_id == self.account_id:
            continue
        for snapshot in list(backend.resource_map[resource_type].values()):
            if _shared_with(snapshot, self.account_id):
                shared.append(SharedSnapshotView(snapshot))
    return shared


def _status_property(cls, original=None):
    def getter(self):
        busy = _busy_status(self)
        if busy:
            return busy
        if original is not None:
            return original.fget(self)
        return self.__dict__.get("emulator_status", "available")

    def setter(self, value):
        if original is not None:
            original.fset(self, value)
        else:
            self.__dict__["emulator_status"] = value

    cls.status = property(getter, setter)


def _cluster_endpoint(self):
    return "127.0.0.1" if _server_of(self) is not None else _ORIGINAL_ENDPOINT(self)


def _cluster_reader_endpoint(self):
    return "127.0.0.1" if _server_of(self) is not None else _ORIGINAL_READER(self)


def _instance_endpoint(self):
    server = _server_of(self.cluster)
    if server is None:
        return _ORIGINAL_INSTANCE_ENDPOINT(self)
    return {"Address": "127.0.0.1", "Port": server.port}


_ORIGINAL_ENDPOINT = rds_models.DBCluster.endpoint.fget
_ORIGINAL_READER = rds_models.DBCluster.reader_endpoint.fget
_ORIGINAL_INSTANCE_ENDPOINT = rds_models.DBInstanceClustered.endpoint.fget
_original_create_instance = rds_models.RDSBackend.create_db_instance


def create_db_instance(self, db_kwargs):
    instance = _original_create_instance(self, db_kwargs)
    _busy(instance, "creating", "instance")
    return instance


def _paged(items, max_records, marker):
    """AWS pages Describe* results: MaxRecords between 20 and 100 (default 100), Marker."""
    max_records = int(max_records or 100)
    if not 20 <= max_records <= 100:
        raise InvalidParameterValue("Invalid value %s for MaxRecords. Must be between 20 and 100"
                                    % max_records)
    start = int(marker or 0)
    page = items[start:start + max_records]
    marker = str(start + max_records) if start + max_records < len(items) else None
    return page, marker


def describe_db_cluster_snapshots_response(self):
    params = self.params
    filters = {f["Name"]: f["Values"] for f in params.get("Filters", [])}
    snapshots = self.backend.describe_db_cluster_snapshots(
        params.get("DBClusterIdentifier"), params.get("DBClusterSnapshotIdentifier"),
        params.get("SnapshotType"), filters)
    wanted = params.get("DBClusterSnapshotIdentifier")
    if params.get("SnapshotType") == "shared" and wanted:
        # AWS: a shared snapshot is looked up by its ARN; moto lists every shared one.
        snapshots = [snapshot for snapshot in snapshots
                     if wanted.lower() in (snapshot.arn.lower(),
                                           snapshot.db_cluster_snapshot_identifier.lower())]
    page, marker = _paged(snapshots, params.get("MaxRecords"), params.get("Marker"))
    result = {"DBClusterSnapshots": page}
    if marker:
        result["Marker"] = marker
    return rds_responses.ActionResult(result)


def install(fleet):
    """Apply every patch; ``fleet`` starts and stops the PostgreSQL servers."""
    FLEET["fleet"] = fleet
    backend = rds_models.RDSBackend
    backend.create_db_cluster = create_db_cluster
    backend.restore_db_cluster_from_snapshot = restore_db_cluster_from_snapshot
    backend.modify_db_cluster = modify_db_cluster
    backend.delete_db_cluster = delete_db_cluster
    backend.create_db_cluster_snapshot = create_db_cluster_snapshot
    backend.copy_db_cluster_snapshot = copy_db_cluster_snapshot
    backend.delete_db_cluster_snapshot = delete_db_cluster_snapshot
    backend.create_db_instance = create_db_instance
    backend.get_snapshot = get_snapshot
    rds_models.DBCluster.save_automated_backup = save_automated_backup
    backend.get_shared_db_cluster_snapshots = (
        lambda self: get_shared_snapshots(self, rds_models.DBClusterSnapshot))
    rds_models.DBCluster.endpoint = property(_cluster_endpoint)
    rds_models.DBCluster.reader_endpoint = property(_cluster_reader_endpoint)
    rds_models.DBInstanceClustered.endpoint = property(_instance_endpoint)
    _status_property(rds_models.DBCluster, rds_models.DBCluster.status)
    _status_property(rds_models.DBClusterSnapshot)
    _status_property(rds_models.DBInstance)
    rds_responses.RDSResponse.describe_db_cluster_snapshots = (
        describe_db_cluster_snapshots_response)
