"""``workflowd alerts [--json] [--since] [--limit] | alerts retry ID``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from ..alerts.delivery import deliver_due
from ..alerts.listing import get_alert, list_alerts, rearm
from ..config import load_config
from ..daemon import control
from ..errors import WorkflowdError
from ..logs import setup_logging
from ..moments import since_moment
from ..store import Store
from . import args as types
from .output import console, print_json


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "alerts",
        parents=[common],
        help="list alerts and their deliveries, or retry one",
        description="List alerts, newest first, with their reason, documents and the state of each delivery "
        "(delivered, pending with its next try, or dead with the reason). `alerts retry ID` tries the alert's "
        "undelivered deliveries again now, with a fresh retry schedule.",
    )
    _list_options(p)
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    lp = asub.add_parser("list", parents=[common], help="list alerts (the default)")
    _list_options(lp)
    rp = asub.add_parser(
        "retry",
        parents=[common],
        help="try an alert's dead and pending deliveries again now",
        description="Make the alert's dead and pending deliveries due now with a fresh retry schedule, and "
        "enable again an endpoint that answered 410 Gone. A running daemon is woken and sends them at once; "
        "without a daemon they are tried once here.",
    )
    rp.add_argument("id", type=types.alert_id, metavar="ID")
    rp.set_defaults(func=cmd_retry)
    p.set_defaults(func=cmd_alerts)


def _list_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument(
        "--since",
        type=since_time,
        metavar="DATE|DURATION",
        help="only alerts made since DATE (ISO 8601, local time unless it says) or in the last "
        "DURATION (e.g. 2h, 7d)",
    )
    p.add_argument("--limit", type=types.positive_int, metavar="N", help="at most N alerts")


def since_time(text: str) -> str:
    """An ISO date or time, or a duration back from now, as the store's UTC time text."""
    try:
        return since_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_alerts(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    alerts: list[dict[str, Any]] = []
    if settings.db_path.exists():
        store = Store(settings.db_path)
        try:
            alerts = list_alerts(store, since=args.since, limit=args.limit)
        finally:
            store.close()
    if args.json:
        print_json(alerts)
        return 0
    table = Table(box=None, pad_edge=False)
    for col in ("id", "time", "level", "alert", "deliveries"):
        table.add_column(col, overflow="fold")
    for a in alerts:
        # Text, not markup: a message or a file name may hold "[red]"
        what = Text(f"{a['kind']} {a['name']}" + (f" [{a['scope']}]" if a["scope"] else ""), style="bold")
        for line, style in (
            (a["message"], ""),
            (a["reason"], "dim"),
            (f"documents {', '.join(map(str, a['documents']))}" if a["documents"] else "", "dim"),
        ):
            if line:
                what.append(f"\n{line}", style=style)
        table.add_row(
            Text(str(a["id"])),
            Text(_local(a["created_at"]).replace(" ", "\n")),
            Text(a["level"]),
            what,
            Text("\n".join(_delivery_line(d) for d in a["deliveries"]) or "logged only"),
        )
    console.print(table)
    if not alerts:
        console.print("no alerts", markup=False)
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    if not settings.db_path.exists():
        raise WorkflowdError(f"no alert with id {args.id} (no database yet at {settings.db_path})")
    store = Store(settings.db_path)
    try:
        notifiers = rearm(store, args.id)
        if not notifiers:
            console.print(f"alert {args.id} has nothing to retry: every delivery was made", markup=False)
            return 0
        console.print(f"alert {args.id}: deliveries to {', '.join(notifiers)} are due now", markup=False)
        pid = control.wake_delivery(settings)
        if pid is not None:
            console.print(
                f"the daemon (pid {pid}) sends them now; `workflowd alerts` shows how it went", markup=False
            )
            return 0
        setup_logging("INFO", settings.log_path, stderr=False)  # the states are printed below
        deliver_due(settings, store, alert_id=args.id)  # no daemon: one try here, as `ingest` does
        alert = get_alert(store, args.id)
    finally:
        store.close()
    deliveries = alert["deliveries"] if alert else []
    for d in deliveries:
        console.print(_delivery_line(d), markup=False)
    return 0 if all(d["status"] == "delivered" for d in deliveries) else 1


def _delivery_line(d: dict[str, Any]) -> str:
    tries = f"{d['attempts']} tr{'y' if d['attempts'] == 1 else 'ies'}"
    if d["status"] == "delivered":
        return f"{d['notifier']}: delivered {_local(d['delivered_at'])} ({tries})"
    why = f": {d['last_error']}" if d["last_error"] else ""
    if d["status"] == "dead":
        return f"{d['notifier']}: dead after {tries}{why}"
    return f"{d['notifier']}: pending, {tries}, next {_local(d['next_attempt_at'])}{why}"


def _local(iso: str | None) -> str:
    """A stored UTC time in local time, to the second."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso
