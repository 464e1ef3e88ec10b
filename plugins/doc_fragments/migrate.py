# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # One side of a migration (module_utils/_migrate.py side_suboptions).
    DOCUMENTATION = r"""
options:
  bin_dir:
    description:
      - Directory of C(pg_dump) and C(pg_restore) on the host the module runs on (the SQL runner).
        Empty looks them up on the E(PATH).
    type: path
notes:
  - Each side's password is read from the environment, E(DBOPS_SOURCE_PASSWORD) for the source
    and E(DBOPS_TARGET_PASSWORD) for the target, never from a module argument (Ansible writes
    those to a file a killed run leaves behind).
requirements:
  - psycopg2
  - pg_dump and pg_restore (PostgreSQL client) of at least the source's major version
"""

    SIDE = r"""
options:
  source:
    description: The database to migrate from.
    type: dict
    required: true
    suboptions: &side
      host:
        description: Host name or address.
        type: str
        required: true
      port:
        description: Port.
        type: int
        default: 5432
      user:
        description: User to connect as.
        type: str
        required: true
      database:
        description: The database.
        type: str
        required: true
      connect_timeout:
        description: Seconds to wait for a connection.
        type: int
        default: 10
  target:
    description: The database to migrate into (on the target, created if missing by M(dbops.aurora.migrate_target)).
    type: dict
    required: true
    suboptions: *side
"""
