# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv4 helpers for the network role, on the standard library only (no netaddr)."""

import ipaddress

from ansible.errors import AnsibleFilterError


def ipv4_cidr_problem(value, min_prefix=16, max_prefix=24):
    """Why ``value`` is not an IPv4 network CIDR with a prefix in range, or '' when it is."""
    if not isinstance(value, str) or "/" not in value:
        return "must be an IPv4 CIDR block such as 10.20.0.0/16"
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        return "must be an IPv4 network CIDR with no host bits set (%s)" % error
    if not int(min_prefix) <= network.prefixlen <= int(max_prefix):
        return "prefix length must be between /%d and /%d" % (int(min_prefix), int(max_prefix))
    return ""


def ipv4_subnet(value, newbits, index):
    """The ``index``-th subnet of ``value`` that is ``newbits`` longer (Terraform's cidrsubnet)."""
    try:
        network = ipaddress.IPv4Network(value, strict=True)
        newbits, index = int(newbits), int(index)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError("ipv4_subnet: %s" % error)
    count = 2 ** newbits
    if not 0 <= index < count or network.prefixlen + newbits > 32:
        raise AnsibleFilterError("ipv4_subnet: %s has no subnet %d of /%d"
                                 % (value, index, network.prefixlen + newbits))
    size = network.num_addresses // count
    return str(ipaddress.IPv4Network((int(network.network_address) + index * size,
                                      network.prefixlen + newbits)))


class FilterModule:
    """dbops.aurora IPv4 filters."""

    def filters(self):
        return {
            "ipv4_cidr_problem": ipv4_cidr_problem,
            "ipv4_subnet": ipv4_subnet,
        }
