"""Aurora PostgreSQL on moto, backed by real PostgreSQL servers, and moto's cross-account gaps.

Each patch below reproduces one documented AWS behaviour that moto 5 lacks; the emulator
tests (tests/unit/test_emulator.py, test_emulator_clone.py for clones) state that behaviour
and prove it end to end.

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
- AWS: every Aurora cluster has a CloneGroupId; a clone shares its source's, a cluster
  restored from a snapshot starts a new one.  Moto reports none.
- AWS: RestoreDBClusterToPointInTime (a clone with RestoreType copy-on-write) creates a new
  cluster holding the source's data as it is at that moment.  Moto copies the source's
  settings (tags, deletion protection...) and no data; here it takes engine, version, master
  user, password and database name from the source, everything else from the request (as
  RestoreDBClusterFromSnapshot does), and its server starts from a fresh physical copy of the
  source's.  In the same account the clone keeps the source's encryption unless the request
  names a KmsKeyId.
- AWS: a cluster another account shares through AWS RAM (invitation accepted, ram.py) is
  visible to DescribeDBClusters by its ARN (members included; IncludeShared lists it too) and
  can be cloned into the caller's account by ARN.  Refused, in AWS's order and with nothing
  created: another region (InvalidParameterValue), not shared or missing
  (DBClusterNotFoundFault), RestoreType not copy-on-write (InvalidParameterValue), source under
  the AWS-managed key or a key whose policy does not grant the caller kms:DescribeKey and
  kms:CreateGrant (KMSKeyNotAccessibleFault), source without a DB instance or not available
  (InvalidDBClusterStateFault), the caller already holding a cluster of the same clone group
  (InvalidDBClusterStateFault: one cross-account clone of a lineage per account), the name
  taken (DBClusterAlreadyExistsFault).  A cross-account clone is always encrypted (the
  request's KmsKeyId, else the caller's ``aws/rds`` key) and reports CrossAccountClone true.
- Optional: clusters, instances and snapshots stay ``creating`` (a renamed cluster
  ``renaming``) for a configured number of seconds, set for all or per kind (``clone`` for
  copy-on-write clones, a constant); a cluster restored from a snapshot (or a full-copy
  point-in-time restore) waits ``restore_seconds_per_mb`` more per MB of its data, so
  restores take time in proportion to data and clones do not.  The moment each turns
  ``available`` is logged (AVAILABILITY) for benchmarks.
"""

import collections
import os
import threading
import time
import uuid

from moto.kms.models import kms_backends
from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    InvalidDBClusterStateFault,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)

from aws_emulator import kms, ram

POSTGRES_ENGINES = ("aurora-postgresql", "postgres")


class EmulatorSettings:
    """Knobs a test can turn at run time (POST /_emulator/config).

    ``creating_seconds`` delays every new cluster, instance and snapshot and every rename; a
    per-kind delay (``snapshot_seconds`` for snapshots and their copies, ``cluster_seconds``,
    ``instance_seconds``, ``rename_seconds``, ``clone_seconds``) overrides it for its kind when
    not negative, so a test can give operations real proportions (a snapshot taking minutes, a
    rename seconds).  ``restore_seconds_per_mb`` adds that many seconds per MB of data to a
    restore from a snapshot, so restores grow with data while clones stay constant."""

    KINDS = ("snapshot", "cluster", "instance", "rename", "clone")

    def __init__(self):
        self.creating_seconds = 0.0
        self.snapshot_seconds = -1.0
        self.cluster_seconds = -1.0
        self.instance_seconds = -1.0
        self.rename_seconds = -1.0
        self.clone_seconds = -1.0
        self.restore_seconds_per_mb = 0.0
        self.throttle_rate = 0.0
        self.error_rate = 0.0
        self.lock = threading.RLock()

    def seconds_for(self, kind):
        seconds = getattr(self, "%s_seconds" % kind)
        return self.creating_seconds if seconds < 0 else seconds

    def as_dict(self):
        settings = {"creating_seconds": self.creating_seconds,
                    "restore_seconds_per_mb": self.restore_seconds_per_mb,
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


def _busy(resource, status, kind, extra_seconds=0.0):
    """Report ``status`` instead of the real one for the seconds configured for ``kind``
    (plus ``extra_seconds``: a restore's time per MB)."""
    seconds = SETTINGS.seconds_for(kind) + extra_seconds
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


def _attach_server(backend, cluster, start_server, kind="cluster", extra_seconds=0.0):
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
    _busy(cluster, "creating", kind, extra_seconds)
    return cluster


def create_db_cluster(self, kwargs):
    if kwargs["db_cluster_identifier"] in self.clusters:
        raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
    _prepare_encryption(self, kwargs)
    cluster = _original_create_cluster(self, kwargs)
    return _attach_server(self, cluster, lambda: _fleet().new_server(
        cluster.db_cluster_identifier, cluster.master_username,
        cluster._master_user_password, cluster.database_name))


# Settings a restored cluster takes from its snapshot (a clone from its source cluster);
# everything else comes from the request or AWS defaults, never from the source cluster (its
# tags, deletion protection, subnet group...).
_FROM_SNAPSHOT = ("engine", "engine_version", "master_username", "database_name",
                  "storage_encrypted", "kms_key_id", "engine_mode")


def _restored_props(backend, inherited, password, overrides):
    """A restored cluster's settings: ``inherited`` (_FROM_SNAPSHOT's, from its source) and the
    master password, then every setting the request names."""
    props = dict(inherited, master_user_password=password)
    for key, value in overrides.items():
        if value is not None and key != "snapshot_identifier":
            props[key] = value
    if overrides.get("kms_key_id"):
        props["kms_key_id"] = backend._validate_kms_key(overrides["kms_key_id"])
        props["storage_encrypted"] = True
    return props


def _check_new_identifier(backend, identifier):
    if identifier in backend.clusters:
        raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")


def _data_mb(path):
    """Size of a physical copy in MB (what a restore's duration grows with)."""
    total = 0
    for directory, _subdirs, files in os.walk(path or ""):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total / (1024.0 * 1024.0)


def _restore_seconds(data):
    return SETTINGS.restore_seconds_per_mb * _data_mb(data) if data else 0.0


def restore_db_cluster_from_snapshot(self, from_snapshot_id, overrides):
    snapshot = self.get_db_cluster_snapshot(from_snapshot_id)
    if _busy_status(snapshot) or snapshot.status != "available":
        raise RDSClientError("InvalidDBClusterSnapshotStateFault",
                             "Snapshot %s is not available" % from_snapshot_id)
    _check_new_identifier(self, overrides["db_cluster_identifier"])
    source = snapshot.cluster
    inherited = {name: getattr(snapshot, name, None) or getattr(source, name, None)
                 for name in _FROM_SNAPSHOT}
    props = _restored_props(self, inherited, source._master_user_password, overrides)
    data = _snapshot_data(self, snapshot) if props["engine"] in POSTGRES_ENGINES else None
    cluster = _original_create_cluster(self, props)
    return _attach_server(self, cluster, lambda: _fleet().server_from_snapshot(
        data, cluster.db_cluster_identifier), extra_seconds=_restore_seconds(data))


# --- clones and point-in-time restores (RestoreDBClusterToPointInTime) -----------------

def _cluster_arn_parts(identifier):
    """(region, account, name) of a cluster ARN; None for a name (or what is no cluster ARN)."""
    parts = (identifier or "").split(":")
    if len(parts) == 7 and parts[0] == "arn" and parts[5] == "cluster":
        return parts[3], parts[4], parts[6]
    return None


def _shared_cluster(backend, region, account, name, identifier):
    """Another account's cluster, visible only once shared with the caller through RAM."""
    owner = backend.get_backend("rds", region, account)
    cluster = owner.clusters.get(name.lower())
    if cluster is None or not ram.cluster_shared_with(cluster.arn, backend.account_id):
        raise DBClusterNotFoundError(identifier)
    return cluster


def _clone_group_id(self):
    return self.__dict__.setdefault("emulator_clone_group_id", str(uuid.uuid4()))


def _cross_account_clone(self):
    return self.__dict__.get("emulator_cross_account_clone", False)


def _check_source_key(backend, source):
    """AWS: the clone's account must be able to use the source's key, so never aws/rds."""
    if not source.storage_encrypted:
        return
    key = kms.find_key(source.kms_key_id)
    if key is None or kms.is_aws_managed(key):
        raise RDSClientError("KMSKeyNotAccessibleFault",
                             "Cannot clone a cluster encrypted with the AWS-managed key across "
                             "accounts: %s is encrypted with %s"
                             % (source.db_cluster_identifier, source.kms_key_id))
    missing = [action for action in ("kms:DescribeKey", "kms:CreateGrant")
               if not kms.key_policy_allows(key, backend.account_id, action)]
    if missing:
        raise RDSClientError("KMSKeyNotAccessibleFault",
                             "The key policy of %s does not grant account %s %s: it cannot "
                             "clone %s" % (key.arn, backend.account_id, ", ".join(missing),
                                           source.db_cluster_identifier))


def _check_source_state(source):
    if not source.members:
        raise InvalidDBClusterStateFault("DB cluster %s has no DB instance: only a cluster with "
                                         "one can be cloned" % source.db_cluster_identifier)
    if _busy_status(source):
        raise InvalidDBClusterStateFault("DB cluster %s is %s, not available"
                                         % (source.db_cluster_identifier, _busy_status(source)))


def _restore_source(backend, identifier, restore_type):
    """The source cluster and whether it is another account's, after AWS's checks (in AWS's
    order) for another account's cluster: region, share, restore type, key, instance."""
    arn = _cluster_arn_parts(identifier)
    if arn is None or arn[:2] == (backend.region_name, backend.account_id):
        return backend.describe_db_clusters(db_cluster_identifier=identifier)[0], False
    region, account, name = arn
    if region != backend.region_name:
        raise InvalidParameterValue("Cross-region clone not supported: %s is in %s, this "
                                    "request in %s" % (identifier, region, backend.region_name))
    source = _shared_cluster(backend, region, account, name, identifier)
    if restore_type != "copy-on-write":
        raise InvalidParameterValue("Cross-account restore is clone-only: RestoreType must be "
                                    "copy-on-write to restore %s" % identifier)
    _check_source_key(backend, source)
    _check_source_state(source)
    return source, True


def _check_lineage(backend, source):
    """AWS: an account holds at most one cross-account clone of a clone group."""
    for cluster in list(backend.clusters.values()):
        if cluster.clone_group_id == source.clone_group_id:
            raise InvalidDBClusterStateFault(
                "DB cluster %s in this account already belongs to the clone group %s of %s: "
                "only one cross-account clone of a clone group is allowed per account"
                % (cluster.db_cluster_identifier, source.clone_group_id, source.arn))


def _copy_of(source):
    """A physical copy of the source's server as it is now (deleted after the clone starts)."""
    server = _server_of(source)
    if server is None:
        return None
    try:
        return server.snapshot()
    except Exception as error:
        raise RDSClientError("InternalFailure",
                             "emulator could not copy PostgreSQL: %s" % error) from error


def restore_db_cluster_to_point_in_time(self, db_cluster_identifier,
                                        source_db_cluster_identifier=None,
                                        restore_type="full-copy", restore_to_time=None,
                                        use_latest_restorable_time=False, **overrides):
    if restore_to_time is not None and use_latest_restorable_time:
        raise InvalidParameterCombination("Cannot specify both RestoreToTime and "
                                          "UseLatestRestorableTime")
    if restore_to_time is not None and restore_type == "copy-on-write":
        raise InvalidParameterCombination("RestoreToTime cannot be specified when RestoreType "
                                          "is copy-on-write")
    if not source_db_cluster_identifier:
        raise InvalidParameterCombination("SourceDBClusterIdentifier is required (the emulator "
                                          "does not look sources up by resource id)")
    source, foreign = _restore_source(self, source_db_cluster_identifier, restore_type)
    if foreign:
        _check_lineage(self, source)
    _check_new_identifier(self, db_cluster_identifier)
    inherited = {name: getattr(source, name, None) for name in _FROM_SNAPSHOT}
    if foreign and not overrides.get("kms_key_id"):
        # A cross-account clone is always encrypted: without a KmsKeyId, with aws/rds.
        inherited.update(storage_encrypted=True, kms_key_id=_default_rds_key_arn(self))
    props = _restored_props(self, inherited, source._master_user_password,
                            dict(overrides, db_cluster_identifier=db_cluster_identifier))
    data = _copy_of(source)
    try:
        cluster = _original_create_cluster(self, props)
        clone = restore_type == "copy-on-write"
        if clone:
            cluster.emulator_clone_group_id = source.clone_group_id
            cluster.emulator_cross_account_clone = foreign
        return _attach_server(
            self, cluster, lambda: _fleet().server_from_snapshot(data, db_cluster_identifier),
            kind="clone" if clone else "cluster",
            extra_seconds=0.0 if clone else _restore_seconds(data))
    finally:
        if data:
            _fleet().remove_snapshot(data)


_original_describe_clusters = rds_models.RDSBackend.describe_db_clusters


def describe_db_clusters(self, db_cluster_identifier=None, filters=None):
    """AWS: another account's cluster is described by its ARN once shared with the caller."""
    arn = _cluster_arn_parts(db_cluster_identifier)
    if arn is not None and arn[1] != self.account_id:
        if arn[0] != self.region_name:
            raise DBClusterNotFoundError(db_cluster_identifier)
        return [_shared_cluster(self, *arn, db_cluster_identifier)]
    return _original_describe_clusters(self, db_cluster_identifier, filters)


def shared_clusters(backend):
    """The clusters other accounts share with this account (AWS: IncludeShared)."""
    clusters = []
    for arn in ram.shared_cluster_arns(backend.account_id, backend.region_name):
        region, account, name = _cluster_arn_parts(arn)
        cluster = backend.get_backend("rds", region, account).clusters.get(name.lower())
        if cluster is not None:
            clusters.append(cluster)
    return clusters


def describe_db_clusters_response(self):
    params = self.params
    filters = {f["Name"]: f["Values"] for f in params.get("Filters", [])}
    clusters = self.backend.describe_db_clusters(params.get("DBClusterIdentifier"), filters)
    if params.get("IncludeShared") and not params.get("DBClusterIdentifier"):
        clusters = clusters + shared_clusters(self.backend)
    return rds_responses.ActionResult({"DBClusters": clusters})


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
    backend.restore_db_cluster_to_point_in_time = restore_db_cluster_to_point_in_time
    backend.describe_db_clusters = describe_db_clusters
    rds_models.DBCluster.clone_group_id = property(_clone_group_id)
    rds_models.DBCluster.cross_account_clone = property(_cross_account_clone)
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
    rds_responses.RDSResponse.describe_db_clusters = describe_db_clusters_response
