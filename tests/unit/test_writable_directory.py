"""dbops.aurora.writable_directory: the report directory check, on the controller."""

import os

from conftest import import_collection_plugin

plugin = import_collection_plugin("plugins.test.writable_directory")


def test_a_directory_it_may_write_in(tmp_path):
    assert plugin.writable_directory(str(tmp_path))


def test_a_missing_path_or_a_file_is_not_one(tmp_path):
    assert not plugin.writable_directory(str(tmp_path / "missing"))
    (tmp_path / "file").write_text("x")
    assert not plugin.writable_directory(str(tmp_path / "file"))


def test_a_read_only_directory_is_not_one_for_another_user(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # root may write anywhere: the check says what os.access says for this user.
    assert plugin.writable_directory(str(locked)) == (os.geteuid() == 0)
