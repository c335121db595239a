"""Argument types shared by the subcommands: addresses, and numbers checked against their bounds.

A value that does not parse or is out of bounds is an argparse usage error
(exit 2) naming the option, before any packet is sent.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address


def integer(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer in low..high (no upper bound when `high` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"in {low}..{high}"
            raise argparse.ArgumentTypeError(f"{value} is not {bounds}")
        return value

    return parse


def seconds(text: str) -> float:
    """A duration in seconds, above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not above 0 seconds")
    return value


def address(text: str) -> IPv4Address | IPv6Address:
    """An IPv4 or IPv6 address."""
    try:
        return ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 or IPv6 address") from None
