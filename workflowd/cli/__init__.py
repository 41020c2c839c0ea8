"""The command line: ``workflowd COMMAND``. Only this package prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ConfigError, PluginError, WorkflowdError
from ..privacy import private_umask
from . import (
    alert_cmds,
    check_cmds,
    correction_cmds,
    daemon_cmds,
    document_cmds,
    model_cmds,
    review_cmds,
    rules_cmds,
    search_cmds,
    setup_cmds,
    steps_cmds,
    web_cmds,
)
from .output import error, quiet_libraries

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2

COMMAND_MODULES = (
    setup_cmds, check_cmds, daemon_cmds, document_cmds, model_cmds, correction_cmds, review_cmds, steps_cmds,
    rules_cmds, alert_cmds, search_cmds, web_cmds,
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="config file (default: $WORKFLOWD_CONFIG, else ~/.config/workflowd/config.toml)",
    )
    parser = argparse.ArgumentParser(
        prog="workflowd",
        description="A personal workflow automation daemon: files and mail become classified, "
        "summarised, searchable records in SQLite, with local models that learn from your corrections.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"workflowd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    private_umask()  # the store, logs, models and exports workflowd writes are the owner's alone
    try:
        return int(args.func(args) or EXIT_OK)
    except (ConfigError, PluginError) as exc:
        error(str(exc))
        return EXIT_CONFIG
    except WorkflowdError as exc:
        error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `workflowd list | head`
        sys.stderr.close()
        return EXIT_OK
