#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: migrate_transfer
short_description: Run pg_dump or pg_restore of a migration with parallel jobs, reporting progress
version_added: 0.2.0
description:
  - Runs C(pg_dump) (directory format, O(jobs) parallel jobs) from the source into O(work_dir),
    or C(pg_restore) (O(jobs) parallel jobs, C(--no-owner --no-acl), stopping at the first error)
    from there into the target.
  - The command runs detached, so a task calling the module in an C(until) loop with
    O(return_after) returns every O(return_after) seconds with where the command stands (tables
    written, megabytes; Ansible prints a line per return, the result at C(-vvv)); a later call
    finds the command still running and goes on waiting for it.
  - O(work_dir) holds a copy of the data. It is created readable by its owner only, and
    O(state=absent) stops whatever a killed run left running there and removes it.
  - A command that fails is reported with the end of its output; the next call starts it again.
author:
  - dbops.aurora contributors (@dbops)
options:
  state:
    description: C(present) runs the step; C(absent) stops what runs in O(work_dir) and removes it.
    type: str
    choices: [present, absent]
    default: present
  step:
    description: C(dump) (from the source) or C(restore) (into the target). Required with O(state=present).
    type: str
    choices: [dump, restore]
  work_dir:
    description: The private work directory on the host the module runs on; the dump is its C(dump) subdirectory.
    type: path
    required: true
  side:
    description: The source for O(step=dump), the target for O(step=restore). Required with O(state=present).
    type: dict
    suboptions:
      host: {description: Host name or address., type: str, required: true}
      port: {description: Port., type: int, default: 5432}
      user: {description: User to connect as., type: str, required: true}
      database: {description: The database., type: str, required: true}
      connect_timeout: {description: Seconds to wait for a connection (unused by the client tools)., type: int, default: 10}
  jobs:
    description: Parallel jobs of pg_dump and pg_restore.
    type: int
    default: 4
  section:
    description: C(all), C(schema) or C(data).
    type: str
    choices: [all, schema, data]
    default: all
  tables:
    description: With O(step=dump), dump only these tables (SCHEMA.TABLE, exact names). Empty dumps the whole database.
    type: list
    elements: str
    default: []
  exclude_tables:
    description: With O(step=dump), tables (SCHEMA.TABLE, exact names) left out of a whole-database dump.
    type: list
    elements: str
    default: []
  expected_tables:
    description: With O(step=dump), how many tables the dump holds, for the progress line.
    type: int
    default: 0
  clean:
    description: With O(step=restore), drop each object of the dump before creating it again (not with O(section=data)).
    type: bool
    default: false
  role:
    description: With O(step=restore), the role that owns what the restore creates (C(--role)).
    type: str
    default: ""
  return_after:
    description:
      - Wait up to this many seconds, then return with RV(complete=false) while the command still
        runs. V(0) waits until it ends.
    type: int
    default: 0
  poll_interval:
    description: Seconds between two looks at the command.
    type: float
    default: 2
notes:
  - The password is read from E(PGPASSWORD) and handed to the command, never a module argument.
  - Check mode runs nothing and says what would run.
extends_documentation_fragment:
  - dbops.aurora.migrate
"""

EXAMPLES = r"""
- name: Dump the source, a line of progress every 30 seconds
  dbops.aurora.migrate_transfer:
    step: dump
    work_dir: /var/tmp/dbops-migrate-shop
    side: {host: legacy-db.internal, user: migrator, database: shop}
    jobs: 4
    return_after: 30
  environment:
    PGPASSWORD: "{{ source_credentials.password }}"
  register: dump
  until: dump.complete
  retries: 2880
  delay: 1

- name: Remove the dump whatever happened
  dbops.aurora.migrate_transfer:
    state: absent
    work_dir: /var/tmp/dbops-migrate-shop
"""

RETURN = r"""
complete:
  description: The step ended successfully (with O(state=absent), always true).
  returned: always
  type: bool
progress:
  description: Where the step stands, C(done) and C(total) tables and C(bytes) written (dump).
  returned: with O(state=present)
  type: dict
  sample: {done: 3, total: 5, bytes: 104857600}
seconds:
  description: Seconds since the step started.
  returned: with O(state=present)
  type: float
command:
  description: The command line (no password in it).
  returned: with O(state=present)
  type: list
  elements: str
stopped:
  description: With O(state=absent), the steps a killed run had left running and that were stopped.
  returned: with O(state=absent)
  type: list
  elements: str
"""

import os
import shutil
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dbops.aurora.plugins.module_utils import _migrate


def tool(module, name):
    bin_dir = module.params["bin_dir"]
    path = os.path.join(bin_dir, name) if bin_dir else module.get_bin_path(name, required=True)
    return path


def command(module, dump_dir):
    params = module.params
    if params["step"] == "dump":
        return _migrate.dump_argv(tool(module, "pg_dump"), params["side"], dump_dir, params["jobs"],
                                  params["section"], params["tables"], not params["tables"],
                                  params["exclude_tables"])
    return _migrate.restore_argv(tool(module, "pg_restore"), params["side"], dump_dir, params["jobs"],
                                 params["section"], params["clean"], params["role"] or None)


def progress(module, dump_dir):
    params = module.params
    paths = _migrate.job_paths(params["work_dir"], params["step"])
    if params["step"] == "dump":
        files, written = _migrate.dump_progress(dump_dir)
        return dict(done=files, total=params["expected_tables"], bytes=written)
    total = 0
    if os.path.exists(paths["total"]):
        with open(paths["total"]) as handle:
            total = int(handle.read().strip() or 0)
    return dict(done=min(_migrate.restore_progress(params["work_dir"]), total), total=total, bytes=0)


def describe(step, state, done, seconds):
    tables = "%d of %d tables" % (done["done"], done["total"]) if done["total"] else "%d tables" % done["done"]
    size = ", %.1f MB" % (done["bytes"] / 1048576.0) if step == "dump" else ""
    verb = "written" if step == "dump" else "loading or loaded"
    return "%s %s: %s %s%s after %d s" % (
        "pg_dump" if step == "dump" else "pg_restore", state, tables, verb, size, seconds)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            step=dict(type="str", choices=list(_migrate.JOB_STEPS)),
            work_dir=dict(type="path", required=True),
            side=dict(type="dict", options=_migrate.side_suboptions()),
            jobs=dict(type="int", default=4),
            section=dict(type="str", choices=list(_migrate.SECTIONS), default="all"),
            tables=dict(type="list", elements="str", default=[]),
            exclude_tables=dict(type="list", elements="str", default=[]),
            expected_tables=dict(type="int", default=0),
            clean=dict(type="bool", default=False),
            role=dict(type="str", default=""),
            return_after=dict(type="int", default=0),
            poll_interval=dict(type="float", default=2),
            bin_dir=dict(type="path"),
        ),
        required_if=[("state", "present", ("step", "side"))],
        supports_check_mode=True,
    )
    params = module.params
    work_dir = params["work_dir"]
    if params["state"] == "absent":
        if module.check_mode:
            module.exit_json(changed=os.path.exists(work_dir), complete=True, stopped=[])
        existed, stopped = _migrate.remove_work_dir(work_dir)
        module.exit_json(changed=existed, complete=True, stopped=stopped)
    if params["jobs"] < 1:
        module.fail_json(msg="jobs must be at least 1")
    step = params["step"]
    dump_dir = os.path.join(work_dir, "dump")
    argv = command(module, dump_dir)
    if module.check_mode:
        module.exit_json(changed=True, complete=True, command=argv, seconds=0.0,
                         progress=dict(done=0, total=params["expected_tables"], bytes=0),
                         msg="would run %s" % os.path.basename(argv[0]))
    paths = _migrate.job_paths(work_dir, step)
    state, rc = _migrate.job_state(work_dir, step)
    if state == "none":
        _migrate.make_work_dir(work_dir)
        if step == "dump" and os.path.exists(dump_dir):
            # A dump left without a job record is incomplete: pg_dump starts from an empty directory.
            shutil.rmtree(dump_dir)
        if step == "restore":
            with open(paths["total"], "w") as handle:
                handle.write("%d\n" % _migrate.count_table_data(argv[0], dump_dir))
        _migrate.start_job(work_dir, step, argv, dict(os.environ))
    started = os.path.getmtime(paths["pid"])
    deadline = time.monotonic() + params["return_after"]
    pause = 0.05  # short steps first: a small step ends within a second, a large one polls slowly
    while True:
        state, rc = _migrate.job_state(work_dir, step)
        if state == "finished":
            break
        if params["return_after"]:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            pause = min(pause, left)
        time.sleep(pause)
        pause = min(pause * 2, params["poll_interval"])
    seconds = round(time.time() - started, 1)
    done = progress(module, dump_dir)
    if state == "running":
        module.exit_json(changed=False, complete=False, progress=done, seconds=seconds, command=argv,
                         msg=describe(step, "running", done, seconds))
    if rc != 0:
        tail = _migrate.log_tail(work_dir, step)
        for name in ("pid", "rc"):  # the next call starts the step again
            if os.path.exists(paths[name]):
                os.unlink(paths[name])
        module.fail_json(msg="%s failed (%s): %s" % (os.path.basename(argv[0]),
                                                     "exit %d" % rc if rc is not None else "killed",
                                                     " | ".join(tail[-5:]) or "no output"),
                         output=tail, command=argv)
    if step == "restore":
        done["done"] = done["total"]
    module.exit_json(changed=True, complete=True, progress=done, seconds=seconds, command=argv,
                     msg=describe(step, "done", done, seconds))


if __name__ == "__main__":
    main()
