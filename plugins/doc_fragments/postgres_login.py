# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The connection of the masking modules (module_utils/_masking.py login_argument_spec).
    DOCUMENTATION = r"""
options:
  login_host:
    description: Host of the database server (for the refresh, the new cluster's endpoint).
    type: str
    required: true
  login_port:
    description: Port of the database server.
    type: int
    default: 5432
  login_user:
    description: User to connect as; to mask, it must own the masked tables (the master user does).
    type: str
    required: true
  login_db:
    description: The database.
    type: str
    required: true
  connect_timeout:
    description: Seconds to wait for a connection.
    type: int
    default: 10
notes:
  - The password is read from the E(PGPASSWORD) environment variable (libpq), never from a module
    argument (Ansible writes those to a file a killed run leaves behind).
requirements:
  - psycopg2
"""
