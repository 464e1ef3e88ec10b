"""Run one of the collection's playbooks the way an AWX job template runs it, with ansible-runner.

    awx_job.py plan --config playbooks/vars/awx_controller.yml --workflow "dbops refresh acceptance"
        prints the workflow's nodes in order, each its template's name, playbook and account
        (the inventory it runs against), as the configuration AWX is given defines them;

    awx_job.py --repo DIR --work DIR --job-id N --playbook share_snapshot.yml \
        --account production --extra-vars '{"k": "v"}'
    (AWX_JOB_FORBID: strings, one per line, that no event or file of the job may hold)

The private data directory is laid out as AWX lays it out for a job: the project (this
repository), the inventory as AWX materialises it from the project's inventory source (a
script printing the JSON, variables untemplated), env/extravars (the template's extra vars, the workflow artifacts of the
nodes before it, and awx_job_id / awx_job_template_name), env/envvars (the one AWS credential of
the template as AWX's "Amazon Web Services" credential type injects it: an access key pair in
the environment, no profile and no config file, so nothing can read the other account).

What AWX itself adds around this (the server, the EE container, the callback receiver) is not
imitated.  Prints one JSON object: status, rc, the artifacts (set_stats data, as AWX hands them
to the next workflow node), the report file found in the job's artifact directory, and the
files or events that held a forbidden string (a secret).
"""

import argparse
import configparser
import glob
import json
import os
import subprocess
import sys

import ansible_runner
import yaml


def credential(credentials_file, profile):
    """The access key pair of one account, as an AWX credential holds it."""
    parser = configparser.ConfigParser()
    parser.read(credentials_file)
    section = parser[profile]
    return {"AWS_ACCESS_KEY_ID": section["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": section["aws_secret_access_key"]}


def materialised_inventory(repo, inventory):
    """The inventory as AWX stores it after an SCM inventory sync (ansible-inventory --list)."""
    listed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"),
                             "-i", os.path.join(repo, inventory), "--list"],
                            capture_output=True, text=True, check=True,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(repo, "ansible.cfg")))
    return json.loads(listed.stdout)


def write(path, content, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(path, mode)


def holders(folder, forbidden):
    """Files under ``folder`` holding any forbidden string."""
    found = []
    for base, dummy, files in os.walk(folder):
        for name in files:
            path = os.path.join(base, name)
            try:
                with open(path, encoding="utf-8", errors="ignore") as handle:
                    text = handle.read()
            except OSError:
                continue
            if any(secret and secret in text for secret in forbidden):
                found.append(os.path.relpath(path, folder))
    return sorted(found)


def plan(argv):
    """The workflow's job templates in the order its success edges run them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--workflow", required=True)
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    workflow = [item for item in config["controller_workflows"] if item["name"] == args.workflow][0]
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    followers = {node["identifier"]: [edge["identifier"] for edge in
                                      node.get("related", {}).get("success_nodes", [])]
                 for node in workflow["workflow_nodes"]}
    roots = [name for name in nodes if not any(name in after for after in followers.values())]
    templates = {template["name"]: template for template in config["controller_templates"]}
    order, current = [], roots
    while current:
        if len(current) != 1:
            raise SystemExit("expected a chain of nodes, found %s" % current)
        template = templates[nodes[current[0]]["unified_job_template"]["name"]]
        order.append({"template": template["name"],
                      "playbook": os.path.basename(template["playbook"]),
                      "account": template["inventory"]})
        current = followers[current[0]]
    print(json.dumps(order))


def main():
    if sys.argv[1:2] == ["plan"]:
        return plan(sys.argv[2:])
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--job-id", type=int, required=True)
    parser.add_argument("--template", required=True)
    parser.add_argument("--playbook", required=True)
    parser.add_argument("--inventory", default="inventories/local")
    parser.add_argument("--account", required=True, help="the emulator profile whose keys the credential holds")
    parser.add_argument("--extra-vars", default="{}")
    parser.add_argument("--timeout", type=int, default=1800)
    args = parser.parse_args()
    # Secrets to look for: from the environment, so they never show in a process listing.
    args.forbid = [line for line in os.environ.pop("AWX_JOB_FORBID", "").splitlines() if line]

    private = os.path.join(args.work, "job-%d" % args.job_id)
    os.makedirs(private, exist_ok=False)
    os.symlink(os.path.abspath(args.repo), os.path.join(private, "project"))
    # AWX hands a job its inventory as an executable script that prints the JSON (so the
    # project's ansible.cfg must leave the script inventory plugin enabled).
    write(os.path.join(private, "inventory", "hosts"),
          "#!%s\nimport json\nprint(json.dumps(%r))\n"
          % (sys.executable, materialised_inventory(args.repo, args.inventory)), mode=0o700)
    extra = json.loads(args.extra_vars)
    extra.update({"awx_job_id": args.job_id, "awx_job_template_name": args.template,
                  "tower_job_id": args.job_id,
                  # The inventory names a profile for shell use; AWX has none: its credential
                  # is in the environment.
                  "dbops_aws_profile": ""})
    write(os.path.join(private, "env", "extravars"), json.dumps(extra))
    envvars = dict(credential(os.environ["AWS_SHARED_CREDENTIALS_FILE"], args.account),
                   AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"],
                   # AWX's AWS credential injects no region: playbooks/awx_configure.yml puts
                   # it in AWX_TASK_ENV, which AWX adds to every job's environment.
                   AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
                   # As the execution environment sets them (execution-environment.yml).
                   AWS_RETRY_MODE="standard", AWS_MAX_ATTEMPTS="10",
                   # No profile, no shared files: the job sees one account only.
                   AWS_CONFIG_FILE="/nonexistent/aws-config",
                   AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
                   # The execution environment has the collection installed; here, the checkout.
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(os.path.abspath(args.repo), ".collections"),
                   ANSIBLE_CONFIG=os.path.join(os.path.abspath(args.repo), "ansible.cfg"),
                   DBOPS_SCRATCH_ROOT=os.environ.get("DBOPS_SCRATCH_ROOT", "/tmp"))
    write(os.path.join(private, "env", "envvars"), json.dumps(envvars))
    # ansible-runner starts from this process's environment: drop what AWX would not pass.
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)

    # Events as AWX receives them: through the event handler, as they happen.
    events = []

    def keep(event):
        events.append(event)
        return True

    runner = ansible_runner.run(private_data_dir=private, playbook=os.path.join("playbooks", args.playbook),
                                ident=str(args.job_id), quiet=True, timeout=args.timeout,
                                event_handler=keep)
    artifacts_dir = os.path.join(private, "artifacts", str(args.job_id))
    stats = [event for event in events if event.get("event") == "playbook_on_stats"]
    artifacts = stats[-1]["event_data"].get("artifact_data", {}) if stats else {}
    # One report per environment (host): refresh-report-<host>.json.
    reports = sorted(glob.glob(os.path.join(artifacts_dir, "refresh-report-*.json")))
    report = reports[0] if reports else os.path.join(artifacts_dir, "refresh-report-none.json")
    events_with_secrets = [event.get("uuid") for event in events
                           if any(secret and secret in json.dumps(event) for secret in args.forbid)]
    print(json.dumps({
        "status": runner.status, "rc": runner.rc, "artifacts": artifacts,
        "report": json.load(open(report, encoding="utf-8")) if os.path.exists(report) else None,
        "report_path": report if os.path.exists(report) else None,
        "prompted": any(event.get("event") == "playbook_on_vars_prompt" for event in events),
        "files_with_secrets": holders(private, args.forbid),
        "events_with_secrets": events_with_secrets,
        "stdout_tail": runner.stdout.read()[-3000:] if runner.rc or not artifacts else "",
        "events": len(events),
        "stats_keys": sorted(stats[-1]["event_data"]) if stats else [],
    }))


if __name__ == "__main__":
    main()
