"""The AWX configuration as data (playbooks/vars/awx_controller.yml) and the playbook that applies
it (playbooks/awx_configure.yml), checked without a controller.

What an AWX server would only find out at 01:00 on a Monday is checked here against the
repository itself: every template's playbook exists and, with its inventory, acts on hosts of its
own account (``ansible-playbook --list-hosts``: a share run against acceptance's inventory would
match no host and "succeed" doing nothing); every template has exactly one AWS credential, the
one of its inventory's account; the workflows only go on after a success, and phase 2 never runs
but after phase 1 succeeded; each survey asks for a variable the playbook or the refresh role
really reads, of the type its argument spec declares; every option the data gives is one the
playbook passes on and the awx.awx module knows. The schedules are taken from the configuration
as the playbook renders it (``-e dbops_awx_render_to=FILE``, which contacts no controller): each
rrule parses with python-dateutil (what AWX uses), and its next three runs after a fixed date
fall at the configured local times, 14 days apart, phase 2 inside acceptance's maintenance window.
Run with ``-s`` to see the computed run times."""

import datetime
import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from dateutil import rrule as dateutil_rrule
from dateutil import tz

import ansible

from conftest import ROOT, import_collection_plugin

BIN = os.path.dirname(sys.executable)
CONFIG = os.path.join(ROOT, "playbooks", "vars", "awx_controller.yml")
PLAYBOOK = os.path.join(ROOT, "playbooks", "awx_configure.yml")
ARGUMENT_SPECS = os.path.join(ROOT, "roles", "refresh", "meta", "argument_specs.yml")
AWX_MODULES = os.path.join(os.path.dirname(os.path.dirname(ansible.__file__)),
                           "ansible_collections", "awx", "awx", "plugins", "modules")

SHARE = "playbooks/share_snapshot.yml"
RECORD_LATEST = "playbooks/update_latest_snapshot.yml"
RESTORE_CURRENT = "playbooks/restore_current_snapshot.yml"

# Each list of the data, the awx.awx module the playbook gives its items to, and the keys of the
# data that are not module options (read by the playbook or by these tests).
KINDS = {
    "controller_organizations": ("organization", set()),
    "controller_execution_environments": ("execution_environment", set()),
    "controller_credentials": ("credential", {"dbops_account", "input_variables", "optional_input_variables"}),
    "controller_projects": ("project", set()),
    "controller_inventories": ("inventory", {"dbops_account"}),
    "controller_inventory_sources": ("inventory_source", set()),
    "controller_notifications": ("notification_template", {"secret_configuration_variables"}),
    "controller_templates": ("job_template", set()),
    "controller_workflows": ("workflow_job_template", set()),
    "controller_schedules": ("schedule", set()),
}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
SURVEY_KEYS = {"question_name", "question_description", "variable", "type", "required", "default",
               "choices", "min", "max"}

# The values a site sets, and secrets as an operator passes them: environment lookups at apply time.
SITE_VALUES = {
    "dbops_awx_scm_url": "https://git.example.com/dbops/aurora.git",
    "dbops_awx_ee_image": "registry.example.com/dbops-aurora-ee:0.2",
    "dbops_awx_notify_email_host": "smtp.example.com",
    "dbops_awx_notify_email_sender": "awx@example.com",
    "dbops_awx_notify_email_recipients": ["dba-oncall@example.com"],
    "dbops_awx_notify_webhook_url": "https://hooks.example.com/dbops-aurora",
}
SECRETS = {
    "TEST_PRODUCTION_KEY_ID": "AKIAPRODUCTIONEXAMPLE",
    "TEST_PRODUCTION_SECRET": "production-secret-access-key-example",
    "TEST_ACCEPTANCE_KEY_ID": "AKIAACCEPTANCEEXAMPLE",
    "TEST_ACCEPTANCE_SECRET": "acceptance-secret-access-key-example",
    "TEST_ACCEPTANCE_TOKEN": "acceptance-session-token-example",
    "TEST_WEBHOOK_TOKEN": "webhook-bearer-token-example",
}
SECRET_VALUES_FILE = """
dbops_awx_production_aws_access_key_id: "{{ lookup('ansible.builtin.env', 'TEST_PRODUCTION_KEY_ID') }}"
dbops_awx_production_aws_secret_access_key: "{{ lookup('ansible.builtin.env', 'TEST_PRODUCTION_SECRET') }}"
dbops_awx_acceptance_aws_access_key_id: "{{ lookup('ansible.builtin.env', 'TEST_ACCEPTANCE_KEY_ID') }}"
dbops_awx_acceptance_aws_secret_access_key: "{{ lookup('ansible.builtin.env', 'TEST_ACCEPTANCE_SECRET') }}"
dbops_awx_acceptance_aws_session_token: "{{ lookup('ansible.builtin.env', 'TEST_ACCEPTANCE_TOKEN') }}"
dbops_awx_notify_webhook_headers:
  Authorization: "Bearer {{ lookup('ansible.builtin.env', 'TEST_WEBHOOK_TOKEN') }}"
"""

# The schedules' next three runs after this instant (local time of the configured zone). The
# three span the end of winter time (28 March 2027): the wall-clock times stay, UTC moves.
AFTER = (2027, 3, 8, 0, 0)
EXPECTED_RUNS = {
    "share": ["2027-03-15T01:00:00+01:00", "2027-03-29T01:00:00+02:00", "2027-04-12T01:00:00+02:00"],
    "record latest": ["2027-03-15T02:00:00+01:00", "2027-03-29T02:00:00+02:00", "2027-04-12T02:00:00+02:00"],
    "restore current": ["2027-03-15T04:00:00+01:00", "2027-03-29T04:00:00+02:00", "2027-04-12T04:00:00+02:00"],
}


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def ansible_env(**extra):
    """The environment of the repository's Ansible; no controller can be reached from it."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    for key in list(env):
        if key.startswith(("CONTROLLER_", "TOWER_")):
            del env[key]
    env.update(extra)
    return env


def run(argv, **env):
    return subprocess.run(argv, cwd=ROOT, env=ansible_env(**env), capture_output=True, text=True,
                          timeout=600, check=False)


def module_options(name):
    """The options of an awx.awx module, from its DOCUMENTATION."""
    with open(os.path.join(AWX_MODULES, name + ".py"), encoding="utf-8") as handle:
        source = handle.read()
    documentation = re.search(r"DOCUMENTATION = r?('''|\"\"\")(.*?)\1", source, re.S).group(2)
    return set(yaml.safe_load(documentation)["options"])


def playbook_tasks(tasks=None):
    """Every task of playbooks/awx_configure.yml, blocks flattened."""
    if tasks is None:
        tasks = load_yaml(PLAYBOOK)[0]["tasks"]
    for task in tasks:
        yield task
        for section in ("block", "rescue", "always"):
            yield from playbook_tasks(task.get(section, []))


def passed_options(module):
    """The options the playbook gives the awx.awx module (one task per module)."""
    tasks = [task for task in playbook_tasks() if "awx.awx." + module in task]
    assert len(tasks) == 1, "one task applies awx.awx.%s" % module
    return tasks[0], set(tasks[0]["awx.awx." + module])


def playbook_text(playbook):
    with open(os.path.join(ROOT, playbook), encoding="utf-8") as handle:
        return handle.read()


def entry_points(playbook, specs):
    """The refresh role's entry points a playbook includes (tasks_from, literal or chosen in Jinja)."""
    found = set()
    for play in load_yaml(os.path.join(ROOT, playbook)):
        for task in play.get("tasks", []):
            include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
            if include and include.get("name") == "dbops.aurora.refresh":
                tasks_from = include.get("tasks_from", "main")
                found |= {word for word in re.findall(r"[a-z_]+", tasks_from) if word in specs}
    return found


def variables_read_by(playbook, specs):
    """What a playbook reads: the options of the refresh entry points it includes and every name
    its own text uses."""
    names = set(re.findall(r"[a-z_][a-z0-9_]*", playbook_text(playbook)))
    for entry in entry_points(playbook, specs):
        names |= set(specs[entry].get("options", {}))
    return names


def option_spec(playbook, specs, variable):
    """The argument spec of ``variable`` in an entry point the playbook includes, or None."""
    for entry in sorted(entry_points(playbook, specs)):
        if variable in specs[entry].get("options", {}):
            return specs[entry]["options"][variable]
    return None


@pytest.fixture(scope="module")
def data():
    return load_yaml(CONFIG)


@pytest.fixture(scope="module")
def specs():
    return load_yaml(ARGUMENT_SPECS)["argument_specs"]


@pytest.fixture(scope="module")
def templates(data):
    return {template["name"]: template for template in data["controller_templates"]}


@pytest.fixture(scope="module")
def inventories(data):
    """Inventory name -> (its account, the project directory its source syncs)."""
    sources = {source["inventory"]: source for source in data["controller_inventory_sources"]}
    return {inventory["name"]: (inventory["dbops_account"], sources[inventory["name"]]["source_path"])
            for inventory in data["controller_inventories"]}


@pytest.fixture(scope="module")
def credentials(data):
    return {credential["name"]: credential for credential in data["controller_credentials"]}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The configuration as awx_configure.yml would apply it (every variable resolved), written by
    its render mode: the operator's values from files, the secrets from environment lookups."""
    work = tmp_path_factory.mktemp("awx")
    (work / "values.yml").write_text(yaml.safe_dump(SITE_VALUES), encoding="utf-8")
    (work / "secrets.yml").write_text(SECRET_VALUES_FILE, encoding="utf-8")
    out = work / "rendered.json"
    result = run([os.path.join(BIN, "ansible-playbook"), PLAYBOOK, "-e", "@%s" % (work / "values.yml"),
                  "-e", "@%s" % (work / "secrets.yml"), "-e", "dbops_awx_render_to=%s" % out], **SECRETS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS.values())
    text = out.read_text(encoding="utf-8")
    return {"text": text, "config": json.loads(text)}


# ---- The playbook ----

def test_the_playbook_passes_the_syntax_check():
    result = run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", PLAYBOOK])
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_apply_without_the_aws_keys_stops_before_any_controller_call(tmp_path):
    values = tmp_path / "values.yml"
    values.write_text(yaml.safe_dump(SITE_VALUES), encoding="utf-8")
    result = run([os.path.join(BIN, "ansible-playbook"), PLAYBOOK, "-e", "@%s" % values])
    assert result.returncode != 0
    for name in ("dbops_awx_production_aws_access_key_id", "dbops_awx_production_aws_secret_access_key",
                 "dbops_awx_acceptance_aws_access_key_id", "dbops_awx_acceptance_aws_secret_access_key"):
        assert name in result.stdout
    assert "TASK [Organization]" not in result.stdout


def test_an_apply_without_site_values_names_them(tmp_path):
    result = run([os.path.join(BIN, "ansible-playbook"), PLAYBOOK, "-e", "dbops_awx_render_to=%s" % (tmp_path / "x")])
    assert result.returncode != 0
    for name in SITE_VALUES:
        assert name in result.stdout


def test_every_item_option_is_passed_on_and_known_to_its_module(data):
    defaults = data["dbops_awx_template_defaults"]
    for kind, (module, own_keys) in KINDS.items():
        task, passed = passed_options(module)
        unknown = passed - module_options(module)
        assert not unknown, "awx.awx.%s has no option %s" % (module, sorted(unknown))
        for item in data[kind]:
            keys = set(item) | (set(defaults) if kind == "controller_templates" else set())
            dropped = keys - passed - own_keys
            assert not dropped, "%s %r: %s are not passed to awx.awx.%s" % (kind, item["name"], sorted(dropped), module)
        assert task.get("loop_control", {}).get("label"), "%s: a loop label, not the whole item" % module


def test_secrets_are_named_never_written(data, credentials):
    with open(CONFIG, encoding="utf-8") as handle:
        text = handle.read()
    assert not re.search(r"AKIA[0-9A-Z]{12,}", text)
    secret_names = set()
    for credential in credentials.values():
        assert credential["credential_type"] == "Amazon Web Services"
        assert set(credential["input_variables"]) == {"username", "password"}
        assert set(credential.get("optional_input_variables", {})) <= {"security_token"}
        secret_names |= set(credential["input_variables"].values())
        secret_names |= set(credential.get("optional_input_variables", {}).values())
    for notification in data["controller_notifications"]:
        secret_names |= set(notification.get("secret_configuration_variables", {}).values())
        assert not set(notification["notification_configuration"]) & set(notification.get("secret_configuration_variables", {}))
    # Defined nowhere in the repository's configuration: the operator passes them.
    assert not secret_names & set(data)
    for name in secret_names:
        for folder in ("playbooks", "inventories"):
            found = subprocess.run(["grep", "-rlE", r"^\s*%s\s*:" % name, folder], cwd=ROOT, capture_output=True,
                                   text=True, check=False)
            assert found.stdout == "", "%s is set in %s" % (name, found.stdout)
    for module in ("credential", "notification_template"):
        task, dummy = passed_options(module)
        assert task.get("no_log") is True
    for task in playbook_tasks():
        if "Resolve" in task.get("name", ""):
            assert task.get("no_log") is True, task["name"]


def test_the_rendered_configuration_holds_no_secret_and_says_which_are_set(rendered):
    assert not any(secret in rendered["text"] for secret in SECRETS.values())
    config = rendered["config"]
    assert config["credential_inputs_set"] == {
        "dbops production AWS": ["password", "username"],
        "dbops acceptance AWS": ["password", "security_token", "username"],
    }
    assert config["notification_secrets_set"] == {"dbops e-mail": [], "dbops webhook": ["headers"]}
    assert config["task_env"] == {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
    assert config["projects"][0]["scm_url"] == SITE_VALUES["dbops_awx_scm_url"]
    assert config["execution_environments"][0]["image"] == SITE_VALUES["dbops_awx_ee_image"]


# ---- Templates, inventories, credentials ----

def test_every_template_runs_a_playbook_of_the_project(templates):
    assert templates
    for template in templates.values():
        assert template["playbook"].startswith("playbooks/")
        assert os.path.isfile(os.path.join(ROOT, template["playbook"])), template["name"]


def test_every_playbook_a_job_runs_has_a_template():
    wanted = {SHARE, RECORD_LATEST, RESTORE_CURRENT, "playbooks/pin_snapshot.yml",
              "playbooks/rollback_refresh.yml", "playbooks/provision.yml", "playbooks/preflight.yml"}
    data = load_yaml(CONFIG)
    assert wanted <= {template["playbook"] for template in data["controller_templates"]}


def test_inventories_are_the_projects_account_inventories(inventories):
    assert set(account for account, dummy in inventories.values()) == {"production", "acceptance"}
    account_ids = {}
    for account, path in inventories.values():
        assert path == "inventories/" + account
        assert os.path.isfile(os.path.join(ROOT, path, "hosts.yml"))
        account_ids[account] = load_yaml(os.path.join(ROOT, path, "group_vars", "all.yml"))["dbops_account_id"]
    assert account_ids["production"] != account_ids["acceptance"]


def test_every_template_has_one_credential_the_one_of_its_inventorys_account(templates, inventories, credentials):
    assert {credential["dbops_account"] for credential in credentials.values()} == {"production", "acceptance"}
    for template in templates.values():
        assert len(template["credentials"]) == 1, template["name"]
        credential = credentials[template["credentials"][0]]
        account, dummy = inventories[template["inventory"]]
        assert credential["dbops_account"] == account, template["name"]


def test_the_refresh_templates_run_in_acceptance_and_the_share_in_production(templates, inventories):
    for template in templates.values():
        account, dummy = inventories[template["inventory"]]
        if template["playbook"] == SHARE:
            assert account == "production", template["name"]
        if template["playbook"] in (RECORD_LATEST, RESTORE_CURRENT, "playbooks/pin_snapshot.yml",
                                    "playbooks/rollback_refresh.yml"):
            assert account == "acceptance", template["name"]
    for playbook in ("playbooks/provision.yml", "playbooks/preflight.yml"):
        accounts = sorted(inventories[t["inventory"]][0] for t in templates.values() if t["playbook"] == playbook)
        assert accounts == ["acceptance", "production"], playbook


def listed_hosts(output):
    """``ansible-playbook --list-hosts`` output of several playbooks: {playbook: set of hosts}."""
    hosts, playbook, listing = {}, None, False
    for line in output.splitlines():
        if line.startswith("playbook: "):
            playbook, listing = line[len("playbook: "):].strip(), False
            hosts[playbook] = set()
        elif re.match(r"^\s+hosts \(\d+\):$", line):
            listing = True
        elif listing and line.startswith("      ") and line.strip():
            hosts[playbook].add(line.strip())
        else:
            listing = False
    return hosts


def test_every_template_acts_on_hosts_of_its_own_account(data, templates, inventories):
    """With its inventory (as the project holds it), each template's playbook matches hosts, and
    only that account's environments (a wrong inventory would match none and do nothing)."""
    defaults = data["dbops_awx_template_defaults"]
    groups = {}
    for template in templates.values():
        extra = dict(defaults["extra_vars"], **template.get("extra_vars", {}))
        key = (template["inventory"], json.dumps(extra, sort_keys=True), template.get("limit", ""))
        groups.setdefault(key, []).append(template)
    for (inventory, extra, limit), members in sorted(groups.items()):
        account, path = inventories[inventory]
        listing = run([os.path.join(BIN, "ansible-inventory"), "-i", path, "--list"])
        assert listing.returncode == 0, listing.stderr
        environments = set(json.loads(listing.stdout)["environments"]["hosts"])
        playbooks = sorted({template["playbook"] for template in members})
        argv = [os.path.join(BIN, "ansible-playbook"), "--list-hosts", "-i", path, "-e", extra] + playbooks
        if limit:
            argv += ["--limit", limit]
        result = run(argv)
        assert result.returncode == 0, result.stdout + result.stderr
        hosts = listed_hosts(result.stdout)
        for template in members:
            matched = hosts[template["playbook"]]
            assert matched, "%s matches no host in %s" % (template["name"], path)
            assert matched <= environments, "%s acts on %s, not only %s's environments" % (
                template["name"], sorted(matched), account)


# ---- Surveys and extra variables ----

def surveys(data):
    """(kind, item, question) of every survey question of a template or workflow."""
    for kind in ("controller_templates", "controller_workflows"):
        for item in data[kind]:
            if item.get("survey_enabled"):
                assert item["survey_spec"]["spec"], item["name"]
            for question in item.get("survey_spec", {}).get("spec", []):
                yield kind, item, question


def playbooks_of(item, templates):
    """The playbooks a template or workflow runs."""
    if "playbook" in item:
        return [item["playbook"]]
    return [templates[node["unified_job_template"]["name"]]["playbook"] for node in item["workflow_nodes"]]


def test_survey_questions_are_well_formed(data):
    for dummy, item, question in surveys(data):
        assert set(question) <= SURVEY_KEYS, (item["name"], question)
        assert question["type"] in SURVEY_TYPES
        assert question["question_name"] and question["variable"]
        if question["type"] == "multiplechoice":
            assert question["choices"] and all(isinstance(choice, str) for choice in question["choices"])
            assert "default" not in question or question["default"] in question["choices"]
        if question["type"] in ("text", "textarea", "password"):
            assert 0 <= question.get("min", 0) <= question.get("max", 1024)


def test_surveys_ask_for_variables_the_playbooks_or_the_refresh_role_read(data, templates, specs):
    asked = 0
    for kind, item, question in surveys(data):
        variable = question["variable"]
        readers = [playbook for playbook in playbooks_of(item, templates) if variable in variables_read_by(playbook, specs)]
        assert readers, "%s asks for %s, which none of %s reads" % (item["name"], variable, playbooks_of(item, templates))
        for playbook in readers:
            spec = option_spec(playbook, specs, variable)
            if spec is None:
                continue
            asked += 1
            kind_of = spec.get("type", "str")
            if kind_of == "bool":
                # Answers are strings; the argument spec and "| bool" read these two as booleans.
                assert question["type"] == "multiplechoice" and set(question["choices"]) == {"true", "false"}
                assert question.get("default") == str(spec.get("default", False)).lower()
            elif kind_of in ("str", "path"):
                assert question["type"] in ("text", "textarea"), (item["name"], variable)
            elif kind_of == "int":
                assert question["type"] == "integer"
            if spec.get("required"):
                assert question["required"] is True, (item["name"], variable)
        if kind == "controller_workflows":
            assert any(variable in variables_read_by(playbook, specs) for playbook in playbooks_of(item, templates))
    assert asked >= 5


def test_the_operator_choices_are_asked_where_they_are_needed(templates):
    def asked(name):
        return {question["variable"]: question for question in templates[name].get("survey_spec", {}).get("spec", [])}
    assert asked("dbops pin snapshot")["refresh_pin_snapshot"]["required"] is True
    assert set(asked("dbops restore current snapshot")) == {"refresh_force"}
    assert set(asked("dbops resume restore current snapshot")) == {"refresh_owner", "refresh_force"}
    assert set(asked("dbops resume rollback refresh")) == {"refresh_owner"}
    # A rollback ignores the window (rollback.yml forces it): no survey may undo that.
    for template in templates.values():
        if template["playbook"] == "playbooks/rollback_refresh.yml":
            assert "refresh_force" not in asked(template["name"])
    # The scheduled template asks nothing that has no default (a schedule answers no survey).
    for question in asked("dbops restore current snapshot").values():
        assert "default" in question
    assert templates["dbops unpin snapshot"]["extra_vars"] == {"refresh_unpin": True}


def test_the_owner_to_resume_is_required_and_within_the_locks_limit(data):
    """A blank optional text answer reaches the playbook as null (AWX 24.6.1) or "": either would
    replace the role's default owner, so refresh_owner is asked only where it is required."""
    with open(os.path.join(ROOT, "plugins", "modules", "refresh_lock.py"), encoding="utf-8") as handle:
        limit = int(re.search(r'len\(params\["owner"\]\) > (\d+)', handle.read()).group(1))
    questions = [question for dummy, dummy, question in surveys(data) if question["variable"] == "refresh_owner"]
    assert len(questions) == 2
    for question in questions:
        assert question["required"] is True and question["type"] == "text"
        assert question["min"] >= 1 and question["max"] <= limit
        assert "default" not in question


def test_extra_variables_are_read_by_their_playbooks(data, templates, specs):
    defaults = data["dbops_awx_template_defaults"]["extra_vars"]
    assert defaults == {"dbops_aws_profile": ""}
    for template in templates.values():
        for variable in dict(defaults, **template.get("extra_vars", {})):
            assert variable in variables_read_by(template["playbook"], specs), (template["name"], variable)


# ---- Workflows ----

def workflow_graph(workflow):
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    assert len(nodes) == len(workflow["workflow_nodes"]), "identifiers are unique"
    edges = {}
    for identifier, node in nodes.items():
        related = node.get("related", {})
        assert set(related) <= {"success_nodes", "failure_nodes", "always_nodes"}
        assert not related.get("failure_nodes") and not related.get("always_nodes"), (
            "%s: %s goes on after a failure" % (workflow["name"], identifier))
        edges[identifier] = [child["identifier"] for child in related.get("success_nodes", [])]
        for child in edges[identifier]:
            assert child in nodes, "%s: no node %s" % (workflow["name"], child)
    return nodes, edges


def chain(workflow):
    """The nodes of a workflow in order; it must be one chain of success edges."""
    nodes, edges = workflow_graph(workflow)
    parents = {identifier: [p for p, children in edges.items() if identifier in children] for identifier in nodes}
    roots = [identifier for identifier, found in parents.items() if not found]
    assert len(roots) == 1, "%s: one first node" % workflow["name"]
    order = [roots[0]]
    while edges[order[-1]]:
        assert len(edges[order[-1]]) == 1
        order.append(edges[order[-1]][0])
        assert order[-1] not in order[:-1], "a cycle"
    assert sorted(order) == sorted(nodes), "%s: every node on the chain" % workflow["name"]
    return [nodes[identifier] for identifier in order]


def test_workflow_nodes_run_existing_templates_and_change_nothing_of_them(data, templates):
    for workflow in data["controller_workflows"]:
        for node in workflow["workflow_nodes"]:
            unified = node["unified_job_template"]
            assert unified["type"] == "job_template"
            assert unified["name"] in templates, unified["name"]
            # Nothing prompted per node: a node cannot swap the template's inventory or credential.
            assert set(node) <= {"identifier", "unified_job_template", "related"}, node["identifier"]
            assert set(node["related"]) == {"success_nodes"}


def test_the_refresh_workflow_is_share_then_record_latest_then_restore_current(data, templates):
    workflows = {workflow["name"]: workflow for workflow in data["controller_workflows"]}
    playbooks = [templates[node["unified_job_template"]["name"]]["playbook"]
                 for node in chain(workflows["dbops refresh acceptance"])]
    assert playbooks == [SHARE, RECORD_LATEST, RESTORE_CURRENT]
    playbooks = [templates[node["unified_job_template"]["name"]]["playbook"]
                 for node in chain(workflows["dbops refresh acceptance, phase 2"])]
    assert playbooks == [RECORD_LATEST, RESTORE_CURRENT]


def test_workflows_report_failure_and_success_by_mail_and_webhook(data):
    kinds = {notification["name"]: notification["notification_type"] for notification in data["controller_notifications"]}
    assert sorted(kinds.values()) == ["email", "webhook"]
    for workflow in data["controller_workflows"]:
        for event in ("notification_templates_error", "notification_templates_success"):
            assert sorted(kinds[name] for name in workflow[event]) == ["email", "webhook"], (workflow["name"], event)
    for item in data["controller_templates"]:
        for name in item.get("notification_templates_error", []):
            assert name in kinds


def test_phase_2_only_ever_runs_after_phase_1_succeeded(data, templates):
    """Restore current is scheduled through a workflow only, and there its one parent is phase 1,
    over a success edge."""
    workflows = {workflow["name"]: workflow for workflow in data["controller_workflows"]}
    for schedule in data["controller_schedules"]:
        target = schedule["unified_job_template"]
        if target in templates:
            assert templates[target]["playbook"] != RESTORE_CURRENT, schedule["name"]
        else:
            assert target in workflows, schedule["name"]
    for workflow in workflows.values():
        order = chain(workflow)
        for position, node in enumerate(order):
            if templates[node["unified_job_template"]["name"]]["playbook"] == RESTORE_CURRENT:
                assert position > 0
                assert templates[order[position - 1]["unified_job_template"]["name"]]["playbook"] == RECORD_LATEST


# ---- Schedules ----

def schedule_phase(schedule, templates, workflows):
    """What a schedule starts: share, record latest or restore current (its last node)."""
    target = schedule["unified_job_template"]
    if target in workflows:
        target = chain(workflows[target])[-1]["unified_job_template"]["name"]
    return {SHARE: "share", RECORD_LATEST: "record latest", RESTORE_CURRENT: "restore current"}[templates[target]["playbook"]]


@pytest.fixture(scope="module")
def schedule_runs(data, templates, rendered):
    """{phase: (rendered schedule, its zone, the next three runs after AFTER)}."""
    config = rendered["config"]
    workflows = {workflow["name"]: workflow for workflow in data["controller_workflows"]}
    zone_name = data["dbops_awx_schedule_timezone"]
    zone = tz.gettz(zone_name)
    assert zone is not None, zone_name
    after = datetime.datetime(*AFTER, tzinfo=zone)
    runs = {}
    for schedule in config["schedules"]:
        assert re.match(r"^DTSTART;TZID=[A-Za-z_/+-]+:\d{8}T\d{6} RRULE:FREQ=WEEKLY;INTERVAL=\d+$", schedule["rrule"]), schedule["rrule"]
        assert "TZID=%s:" % zone_name in schedule["rrule"]
        rule = dateutil_rrule.rrulestr(schedule["rrule"])
        phase = schedule_phase(schedule, templates, workflows)
        assert phase not in runs, "one schedule per phase"
        runs[phase] = (schedule, list(rule.xafter(after, count=3)))
    assert set(runs) == {"share", "record latest", "restore current"}
    print("\nNext three runs after %s (%s), as AWX computes them (python-dateutil):" % (after.isoformat(), zone_name))
    for phase in ("share", "record latest", "restore current"):
        schedule, times = runs[phase]
        print("  %-16s %-52s %s" % (phase, schedule["name"], "  ".join(
            "%s (%s UTC)" % (moment.isoformat(), moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"))
            for moment in times)))
    return runs


def test_schedules_parse_and_run_at_the_configured_local_times_14_days_apart(data, schedule_runs):
    configured = {"share": data["dbops_awx_schedule_share_time"],
                  "record latest": data["dbops_awx_schedule_record_latest_time"],
                  "restore current": data["dbops_awx_schedule_restore_current_time"]}
    # DESIGN: phase 1 at 02:00, phase 2 at 04:00; the share before them.
    assert configured == {"share": "01:00", "record latest": "02:00", "restore current": "04:00"}
    assert data["dbops_awx_schedule_interval_weeks"] == 2
    zone = tz.gettz(data["dbops_awx_schedule_timezone"])
    for phase, (schedule, times) in schedule_runs.items():
        assert len(times) == 3, phase
        assert schedule["enabled"] is True
        for moment in times:
            assert moment.tzinfo is not None and moment.utcoffset() == moment.astimezone(zone).utcoffset()
            assert moment.strftime("%H:%M") == configured[phase], (phase, moment)
            assert moment.weekday() == times[0].weekday()
        for earlier, later in zip(times, times[1:]):
            # 14 days on the wall clock (an aware subtraction within one zone is wall-clock time) ...
            assert later.replace(tzinfo=None) - earlier.replace(tzinfo=None) == datetime.timedelta(days=14)
            # ... which is 14 days less the hour daylight saving time takes in spring.
            elapsed = later.astimezone(datetime.timezone.utc) - earlier.astimezone(datetime.timezone.utc)
            assert elapsed == datetime.timedelta(days=14) - (later.utcoffset() - earlier.utcoffset())


def test_schedules_next_runs_are_exactly_the_expected_ones(schedule_runs):
    computed = {phase: [moment.isoformat() for moment in times] for phase, (dummy, times) in schedule_runs.items()}
    assert computed == EXPECTED_RUNS


def test_share_record_latest_and_restore_current_run_the_same_days_in_order(schedule_runs):
    share = schedule_runs["share"][1]
    latest = schedule_runs["record latest"][1]
    restore = schedule_runs["restore current"][1]
    for first, second, third in zip(share, latest, restore):
        assert first.date() == second.date() == third.date()
        assert first < second < third
        assert third - second == datetime.timedelta(hours=2)


def test_phase_2_starts_inside_the_acceptance_maintenance_window_all_year(data, schedule_runs):
    """refresh_maintenance_window is UTC; phase 2 refuses outside it. Over a year of runs (winter
    and summer time), 04:00 local must be inside it in UTC."""
    refresh = import_collection_plugin("plugins.filter.refresh")
    window = load_yaml(os.path.join(ROOT, "inventories", "acceptance", "host_vars", "acceptance.yml"))["refresh_maintenance_window"]
    assert window, "the acceptance inventory sets a maintenance window"
    schedule, dummy = schedule_runs["restore current"]
    rule = dateutil_rrule.rrulestr(schedule["rrule"])
    zone = tz.gettz(data["dbops_awx_schedule_timezone"])
    year = list(rule.xafter(datetime.datetime(2027, 1, 1, tzinfo=zone), count=26))
    assert {moment.utcoffset() for moment in year} == {datetime.timedelta(hours=1), datetime.timedelta(hours=2)}
    for moment in year:
        # At the scheduled minute, and 30 minutes on (phase 1 runs again first).
        for late in (0, 30):
            when = (moment + datetime.timedelta(minutes=late)).astimezone(datetime.timezone.utc)
            assert refresh.in_maintenance_window(window, when.isoformat()), (window, when)
