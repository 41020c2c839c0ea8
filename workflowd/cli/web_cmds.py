"""``workflowd open [--print]``: the daemon's web page, logged in."""

from __future__ import annotations

import argparse
import webbrowser
from urllib.parse import quote

from ..config import load_config
from ..daemon.pidfile import running_info
from ..errors import WorkflowdError
from ..web.auth import ensure_token
from .output import console


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("open", parents=[common], help="open the web page (a login link) in a browser",
                       description="Open the page the running daemon serves ([web]) in a browser, through "
                       "a link that logs it in. The link holds the secret token of <data_dir>/web-token: "
                       "whoever has it can read and correct your documents.")
    p.add_argument("--print", action="store_true", help="print the link instead of opening a browser")
    p.set_defaults(func=cmd_open)


def login_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/login?token={quote(token)}"


def cmd_open(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    if not settings.web.enabled:
        raise WorkflowdError("the web page is off ([web] enabled = false)")
    info = running_info(settings.pid_path)
    if info is None:
        raise WorkflowdError("workflowd is not running: the daemon serves the page (`workflowd start`)")
    base = info.get("web_url")
    if not base:
        raise WorkflowdError("the running daemon serves no web page (started with [web] enabled = false, "
                             "or by an older workflowd): restart it")
    url = login_url(base, ensure_token(settings.web_token_path))
    if args.print:
        print(url)
        return 0
    if not webbrowser.open(url):
        console.print("no browser found here; open this link:", markup=False)
        print(url)
        return 0
    console.print(f"opened {base} in a browser", markup=False)
    return 0
