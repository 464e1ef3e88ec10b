"""dbops.aurora.cluster_settings_info: what a refresh must give the cluster it restores."""

from snapshot_helpers import cluster, unique


def provisioned(rds, name, instances=1, **extra):
    """A cluster set up as the cluster role sets up acceptance (aurora-mysql: no server)."""
    made = cluster(
        rds, name, engine="aurora-mysql", BackupRetentionPeriod=3,
        PreferredBackupWindow="01:00-01:30", PreferredMaintenanceWindow="sun:03:00-sun:03:30",
        EnableCloudwatchLogsExports=["postgresql"], CopyTagsToSnapshot=True,
        ServerlessV2ScalingConfiguration={"MinCapacity": 0, "MaxCapacity": 8},
        Tags=[{"Key": "environment", "Value": "acceptance"}, {"Key": "project", "Value": "app"},
              {"Key": "dbops:refresh-id", "Value": "r12345678"}], **extra)
    for index in range(instances):
        rds.create_db_instance(DBInstanceIdentifier="%s-x%d" % (name, index),
                               DBClusterIdentifier=name, Engine="aurora-mysql",
                               DBInstanceClass="db.serverless")
    return made


def test_reads_every_setting_of_the_serving_cluster(emulator, run_module):
    rds = emulator.client("rds", "acceptance")
    name = unique("settings")
    provisioned(rds, name, instances=2)
    result = run_module("cluster_settings_info", {"db_cluster_identifier": name})
    assert not result.failed, result
    assert result["source"] == name and result["canonical"]["db_cluster_identifier"] == name
    settings = result["settings"]
    assert settings["serverless_v2_scaling"]["min_capacity"] == 0.0
    assert settings["serverless_v2_scaling"]["max_capacity"] == 8.0
    assert settings["instance_class"] == "db.serverless" and settings["instance_count"] == 2
    assert settings["backup_retention_period"] == 3
    assert settings["preferred_backup_window"] == "01:00-01:30"
    assert settings["preferred_maintenance_window"] == "sun:03:00-sun:03:30"
    assert settings["enable_cloudwatch_logs_exports"] == ["postgresql"]
    assert settings["copy_tags_to_snapshot"] is True and settings["deletion_protection"] is False
    # The refresh's record is not a setting: a new cluster gets its own.
    assert settings["tags"] == {"environment": "acceptance", "project": "app"}
    assert result["origins"]["instance_count"] == "cluster"
    assert result["production_tagged"] is False and not result.changed
    # The caller's account, so the refresh refuses the source account without another module.
    assert result["account_id"] == "222222222222"


def test_overrides_win_and_unset_values_do_not(emulator, run_module):
    rds = emulator.client("rds", "acceptance")
    name = unique("settings-over")
    provisioned(rds, name)
    result = run_module("cluster_settings_info", {
        "db_cluster_identifier": name,
        "overrides": {"instance_count": 3, "kms_key_id": "", "vpc_security_group_ids": [],
                      "db_subnet_group_name": None, "deletion_protection": False,
                      "serverless_v2_scaling": {"max_capacity": 16, "min_capacity": None},
                      "tags": {"team": "data"}}})
    assert not result.failed, result
    settings, origins = result["settings"], result["origins"]
    assert settings["instance_count"] == 3 and origins["instance_count"] == "override"
    assert origins["kms_key_id"] == "cluster" and origins["vpc_security_group_ids"] == "cluster"
    assert settings["serverless_v2_scaling"]["max_capacity"] == 16
    assert settings["serverless_v2_scaling"]["min_capacity"] == 0.0  # as read
    assert settings["tags"] == {"environment": "acceptance", "project": "app", "team": "data"}


def test_falls_back_to_the_newest_previous_cluster_when_the_canonical_name_is_empty(
        emulator, run_module):
    """A run that died between the swap's two renames leaves nothing under the canonical name:
    the settings still come from the cluster it had just put aside."""
    rds = emulator.client("rds", "acceptance")
    canonical = unique("settings-gone")
    provisioned(rds, canonical + "-previous-r00000001", instances=1)
    provisioned(rds, canonical + "-previous-r00000002", instances=2)
    result = run_module("cluster_settings_info", {
        "db_cluster_identifier": canonical,
        "fallback_prefixes": [canonical + "-previous-"]})
    assert not result.failed, result
    assert result["canonical"] is None
    assert result["source"] == canonical + "-previous-r00000002"
    assert result["settings"]["instance_count"] == 2

    nothing = run_module("cluster_settings_info", {"db_cluster_identifier": unique("none")})
    assert nothing["source"] is None and nothing["settings"]["instance_class"] == "db.serverless"
    assert nothing["origins"]["kms_key_id"] == "default" and nothing["settings"]["kms_key_id"] is None


def test_production_tag_is_reported_and_bad_input_refused(emulator, run_module):
    rds = emulator.client("rds", "acceptance")
    name = unique("settings-prod")
    cluster(rds, name, engine="aurora-mysql",
            Tags=[{"Key": "Environment", "Value": "Production"}])
    assert run_module("cluster_settings_info",
                      {"db_cluster_identifier": name})["production_tagged"] is True

    bad_name = run_module("cluster_settings_info", {"db_cluster_identifier": "app--acc"})
    assert bad_name.failed and bad_name["invalid_fields"] == ["db_cluster_identifier"]
    bad_key = run_module("cluster_settings_info", {"db_cluster_identifier": name,
                                                   "overrides": {"instance_kind": "x"}})
    assert bad_key.failed and "instance_kind" in bad_key["msg"]
