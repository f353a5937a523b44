"""Every option string the CLI had before the configs were split into nested groups still parses: the flat names
are an interface scripts rely on. cli_options_session4.json lists them as the CLI printed them at that point."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from apps.cli import all_commands, build_parser

BEFORE = json.loads((Path(__file__).parent / "cli_options_session4.json").read_text())


def _options_now() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(parser, prefix: list[str]) -> None:
        if prefix and hasattr(parser, "_preprocessing"):
            parser._preprocessing()  # simple-parsing adds a dataclass's options lazily
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, prefix + [name])
            elif prefix:
                found.setdefault(" ".join(prefix), set()).update(action.option_strings)

    walk(build_parser(all_commands()), [])
    return found


def test_every_option_of_before_still_exists():
    now = _options_now()
    missing = {cmd: sorted(set(opts) - now.get(cmd, set())) for cmd, opts in BEFORE.items()}
    assert not {k: v for k, v in missing.items() if v}, missing
