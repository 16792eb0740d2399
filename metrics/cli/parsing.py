"""What the `metrics` parser (`main`, `pipelines/cli.py`) and every subcommand module share:
the types of a command and of the subparsers, and the help's example epilog. It sits below them
all, so a subcommand module never imports the parser that registers it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Command = Callable[[argparse.Namespace], int]
Subcommands = Any  # argparse's private _SubParsersAction: what add_subparsers returns


def example(*lines: str) -> dict[str, Any]:
    """`add_parser` keywords giving a subcommand's --help an example epilog, kept as written."""
    text = "example:\n" + "\n".join(f"  {line}" for line in lines)
    return {"epilog": text, "formatter_class": argparse.RawDescriptionHelpFormatter}
