"""What every command gets: its parsed arguments, the output, and the URL resolver."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from libstore.cli._output import Output
from libstore.cli._urls import Resolver

__all__ = ["Context"]


@dataclass
class Context:
    args: argparse.Namespace
    out: Output
    resolver: Resolver
