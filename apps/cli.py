"""The `interp` command line, generated from the typed config dataclasses each package declares.

Each package lists its commands (`interp.commands`, and later `saes.commands`, `circuits.commands`); this module
turns every config field into an option (`d_sae` -> `--d-sae`, the field docstring as help, Literal -> choices),
validates through the config's own __post_init__, and calls the command. Errors from bad input (ValueError,
FileNotFoundError, KeyError) are printed as one clear line, never as a traceback from deep inside torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence

import simple_parsing
from simple_parsing import DashVariant

from interp.commands import Command
from interp.hub import ensure_offline_if_no_hub


def all_commands() -> list[Command]:
    cmds = []
    for pkg in ("interp.worlds.toy", "interp", "saes", "circuits", "apps"):  # the toy worlds' commands first
        try:
            mod = importlib.import_module(f"{pkg}.commands")
        except ModuleNotFoundError as e:
            if e.name != f"{pkg}.commands":
                raise
            continue
        cmds.extend(mod.commands())
    return cmds


class OneLineErrors:
    """Parser errors (an unknown option, a choice not offered, a value of the wrong type) in one line naming the
    problem and where the options are listed, instead of argparse's usage block above the message."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


class TopParser(OneLineErrors, argparse.ArgumentParser):
    """The `interp` parser."""


class CommandParser(OneLineErrors, simple_parsing.ArgumentParser):
    """A command's parser, generated from its config dataclass."""


def build_parser(cmds: Sequence[Command]) -> argparse.ArgumentParser:
    """One sub-parser per command; "group name" commands nest under their group."""
    parser = TopParser(prog="interp", description="Mechanistic-interpretability workbench.")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=CommandParser)
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in cmds:
        words = cmd.name.split()
        where = top
        if len(words) == 2:
            if words[0] not in groups:
                gp = top.add_parser(words[0], help=f"{words[0]} commands")
                groups[words[0]] = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True,
                                                     parser_class=CommandParser)
            where = groups[words[0]]
        sub = where.add_parser(words[-1], help=cmd.help, description=cmd.help,
                               add_option_string_dash_variants=DashVariant.DASH,
                               add_config_path_arg=False)
        sub.add_arguments(cmd.config, dest="config")
        sub.set_defaults(_command=cmd)
    return parser


def apply_env(env: Mapping[str, str]) -> dict[str, str]:
    """Set the command's environment defaults the user has not set; returns those set. Only while torch is not
    loaded yet: libraries such as OpenMP read these when they load, so later they would do nothing here and only
    leak into child processes."""
    if "torch" in sys.modules:
        return {}
    chosen = {k: v for k, v in env.items() if k not in os.environ}
    os.environ.update(chosen)
    return chosen


def run(cmd: Command, config) -> object:
    apply_env(cmd.env)
    module, func = cmd.run.split(":")
    return getattr(importlib.import_module(module), func)(config)


def os_error_message(e: OSError) -> str:
    """One line for an operating-system error: what failed, on which file, and what to do."""
    import errno

    where = f" ({e.filename})" if e.filename else ""
    if e.errno == errno.ENOSPC:
        return f"the disk is full{where}: free space and run the same command again (it resumes)"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write or read{where}: choose another --out folder or fix its permissions"
    return f"{e.strerror or e}{where}"


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """A warning as the CLI prints it: one line, like its errors (no source file, line number or code)."""
    return f"interp: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    warnings.formatwarning = _warning_line  # a library's warning about the user's input is one line too
    parser = build_parser(all_commands())
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # named with the command they were given to, so the help pointed at lists its options
            parser.exit(2, f"interp {args._command.name}: error: unrecognized arguments: {' '.join(unknown)}; see "
                           f"`interp {args._command.name} --help`\n")
    except ValueError as e:  # a config's __post_init__ rejected the options
        parser.exit(2, f"interp: error: {e}\n")
    ensure_offline_if_no_hub()
    try:
        run(args._command, args.config)
    except (ValueError, FileNotFoundError, KeyError, FileExistsError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"interp: error: {msg}", file=sys.stderr)
        return 1
    except OSError as e:  # permissions, a full disk, a folder that vanished: the system's reason and what to do
        print(f"interp: error: {os_error_message(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interp: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
