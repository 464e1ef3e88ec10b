"""The execution environment definition, without a container engine: ``ansible-builder create``
writes the build context of execution-environment.yml (with this collection built into a tarball
as its header comment says), and the Containerfile is checked for what the jobs need: the Session
Manager plugin for the community.aws.aws_ssm connection, this collection, and dependency versions
that requirements.txt's (the tested ones) satisfy. The two shell steps the definition adds are
run here with stand-in commands, so their logic is exercised too."""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import types

import pytest
import yaml

from conftest import ROOT

ansible_builder = pytest.importorskip(
    "ansible_builder",
    reason="ansible-builder is not installed (pip install ansible-builder; it is not in "
           "requirements.txt): execution-environment.yml is not checked")

# pylint: disable=wrong-import-position,wrong-import-order
from packaging.requirements import Requirement  # noqa: E402

BIN = os.path.dirname(sys.executable)
PLUGIN_URL = "https://s3.amazonaws.com/session-manager-downloads/plugin/%s/%s/session-manager-plugin.rpm"


def load_yaml(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def pinned_versions():
    """requirements.txt's ``name==version`` pins (what CI installs and tests)."""
    pins = {}
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                requirement = Requirement(line)
                pins[requirement.name.lower()] = next(iter(requirement.specifier)).version
    return pins


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """The definition and the files it names, the collection tarball in build/ee, and the
    context ``ansible-builder create`` writes: ``work`` (the directory) and ``containerfile``."""
    work = tmp_path_factory.mktemp("ee")
    definition = load_yaml("execution-environment.yml")
    shutil.copy(os.path.join(ROOT, "execution-environment.yml"), work)
    for kind in ("galaxy", "system", "python"):
        named = definition["dependencies"].get(kind)
        if isinstance(named, str):
            shutil.copy(os.path.join(ROOT, named), work)
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                    str(work / "build" / "ee"), ROOT], check=True, capture_output=True, text=True,
                   timeout=300)
    result = subprocess.run([sys.executable, "-m", "ansible_builder", "create", "-f",
                             "execution-environment.yml", "-c", "context", "--output-filename",
                             "Containerfile"], cwd=work, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return types.SimpleNamespace(work=work,
                                 containerfile=(work / "context" / "Containerfile").read_text())


def stage(containerfile, name):
    """The Containerfile's lines of one build stage."""
    text = containerfile.split("FROM base AS %s" % name, 1)[1]
    return text.split("\nFROM ", 1)[0]


def build_arg(containerfile, name):
    return re.search(r'^ARG %s="([^"]*)"' % name, containerfile, re.M).group(1)


def test_base_image_is_a_supported_ubi(build):
    containerfile = build.containerfile
    image = build_arg(containerfile, "EE_BASE_IMAGE")
    assert image.startswith("registry.access.redhat.com/ubi10/"), image
    assert "fedora" not in containerfile.lower()
    assert build_arg(containerfile, "PYCMD") == "/usr/bin/python3"


def test_the_session_manager_plugin_is_installed_in_the_final_image(build):
    containerfile = build.containerfile
    final = stage(containerfile, "final")
    assert "ARG SESSION_MANAGER_PLUGIN_VERSION=latest" in final
    install = next(line for line in final.splitlines() if "session-manager-plugin.rpm" in line)
    assert "plugin_base=https://s3.amazonaws.com/session-manager-downloads/plugin " in install
    assert '"${plugin_base}/${SESSION_MANAGER_PLUGIN_VERSION}/${plugin_arch}/session-manager-plugin.rpm"' in install
    assert "x86_64) plugin_arch=linux_64bit" in install
    assert "aarch64) plugin_arch=linux_arm64" in install
    assert install.rstrip().endswith("session-manager-plugin --version")
    # Installed while the build still runs as root, before the image switches user.
    assert final.index(install) < final.index("USER 1000")


def test_every_boto3_client_in_a_job_retries_throttling_and_5xx(build):
    """Lookups run in the controller, out of module_defaults' reach: the image's environment
    configures botocore for them (and for the modules) alike."""
    final = stage(build.containerfile, "final")
    assert "ENV AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=10" in final.splitlines()


def test_this_collection_is_built_in(build):
    work, containerfile = build.work, build.containerfile
    galaxy = load_yaml("galaxy.yml")
    tarballs = list((work / "context" / "_build" / "collections").glob("dbops-aurora-*.tar.gz"))
    assert [path.name for path in tarballs] == ["dbops-aurora-%s.tar.gz" % galaxy["version"]]
    with tarfile.open(tarballs[0]) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"]) == ("dbops", "aurora")
    assert manifest["dependencies"] == galaxy["dependencies"]

    galaxy_stage = stage(containerfile, "galaxy")
    install = next(line for line in galaxy_stage.splitlines()
                   if "/build/collections/dbops-aurora-" in line)
    assert "ansible-galaxy collection install" in install
    assert "--collections-path /usr/share/ansible/collections" in install
    # Its dependencies first, from the same requirements.yml real users install.
    assert galaxy_stage.index("-r requirements.yml --collections-path") < galaxy_stage.index(install)
    assert "COPY --from=galaxy /usr/share/ansible /usr/share/ansible" in stage(containerfile, "final")
    # Its requirements.txt (the test toolchain) stays out of the image.
    excluded = (work / "context" / "_build" / "exclude-collections.txt").read_text().split()
    assert excluded == ["dbops.aurora"]


def test_galaxy_requirements_match_the_collection_dependencies(build):
    work = build.work
    copied = yaml.safe_load((work / "context" / "_build" / "requirements.yml").read_text())
    assert copied == load_yaml("requirements.yml")
    wanted = {entry["name"]: entry["version"] for entry in copied["collections"]}
    assert wanted == load_yaml("galaxy.yml")["dependencies"]


def test_versions_admit_what_requirements_txt_pins(build):
    work, containerfile = build.work, build.containerfile
    pins = pinned_versions()
    requirements = [Requirement(line) for line in
                    (work / "context" / "_build" / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    requirements += [Requirement(ref) for ref in build_arg(containerfile, "ANSIBLE_INSTALL_REFS").split()]
    by_name = {requirement.name.lower(): requirement for requirement in requirements}
    for name in ("ansible-core", "boto3", "botocore", "psycopg2-binary"):
        assert by_name[name].specifier.contains(pins[name]), (name, str(by_name[name]), pins[name])
    assert "ansible-runner" in by_name


def test_bindep_parses_and_asks_nothing_of_the_rpm_image():
    """bindep (which ansible-builder runs) reads the file; the image (rpm) needs no distribution
    package, the Debian controller of the stand-in gets the PostgreSQL client."""
    from bindep.depends import Depends  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, "bindep.txt"), encoding="utf-8") as handle:
        depends = Depends(handle.read())
    assert depends.list_all_packages(depends.active_rules(["platform:rpm"])) == []
    assert depends.list_all_packages(depends.active_rules(["platform:dpkg"])) == ["postgresql-client"]


def stand_ins(tmp_path, arch):
    """A bin directory of stand-in commands that log their arguments to calls.log."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    for name, output in (("uname", arch), ("ansible-galaxy", ""), ("dnf", ""),
                         ("session-manager-plugin", "1.2.0.0")):
        script = bindir / name
        script.write_text('#!/bin/sh\necho "%s $*" >> "%s"\n[ -z "%s" ] || echo "%s"\n'
                          % (name, log, output, output))
        script.chmod(0o755)
    return bindir, log


def run_step(command, bindir, **env):
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60,
                          check=False, env=dict(os.environ, PATH="%s:/usr/bin:/bin" % bindir,
                                                PKGMGR=str(bindir / "dnf"), **env))


def run_command_of(containerfile, marker):
    line = next(line for line in containerfile.splitlines() if line.startswith("RUN ") and marker in line)
    return line[len("RUN "):]


@pytest.mark.parametrize("arch, plugin_arch", [("x86_64", "linux_64bit"), ("aarch64", "linux_arm64")])
def test_plugin_step_installs_the_rpm_of_the_architecture(build, tmp_path, arch, plugin_arch):
    containerfile = build.containerfile
    bindir, log = stand_ins(tmp_path, arch)
    result = run_step(run_command_of(containerfile, "session-manager-plugin.rpm"), bindir,
                      SESSION_MANAGER_PLUGIN_VERSION="latest")
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert "dnf install -y %s" % (PLUGIN_URL % ("latest", plugin_arch)) in calls
    assert calls[-1] == "session-manager-plugin --version"


def test_plugin_step_refuses_an_architecture_without_an_rpm(build, tmp_path):
    containerfile = build.containerfile
    bindir, log = stand_ins(tmp_path, "s390x")
    result = run_step(run_command_of(containerfile, "session-manager-plugin.rpm"), bindir,
                      SESSION_MANAGER_PLUGIN_VERSION="latest")
    assert result.returncode != 0
    assert "no Session Manager plugin RPM for s390x" in result.stderr
    assert "dnf" not in log.read_text()


@pytest.mark.parametrize("tarballs, installed", [
    (["dbops-aurora-0.1.0.tar.gz"], True),
    ([], False),                                                        # not built
    (["dbops-aurora-0.1.0.tar.gz", "dbops-aurora-0.2.0.tar.gz"], False),  # an old build beside
])
def test_collection_step_installs_exactly_one_tarball(build, tmp_path, tarballs, installed):
    containerfile = build.containerfile
    bindir, log = stand_ins(tmp_path, "x86_64")
    collections = tmp_path / "collections"
    collections.mkdir()
    for name in tarballs:
        (collections / name).write_bytes(b"")
    command = run_command_of(containerfile, "/build/collections/").replace(
        "/build/collections/", "%s/" % collections)
    result = run_step(command, bindir, ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="")
    calls = log.read_text() if log.exists() else ""
    if installed:
        assert result.returncode == 0, result.stderr
        assert "ansible-galaxy collection install %s/%s" % (collections, tarballs[0]) in calls
    else:
        assert result.returncode != 0
        assert "build one collection tarball into build/ee first" in result.stderr
        assert "ansible-galaxy" not in calls
