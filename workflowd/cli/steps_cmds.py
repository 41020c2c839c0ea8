"""``workflowd steps``: the pipeline steps and the tasks there are, and where each comes from."""

from __future__ import annotations

import argparse

from ..config import load_config
from .output import console, print_json


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "steps",
        parents=[common],
        help="list the steps and tasks, and where each comes from",
        description="Every pipeline step and every task (a step whose model can be corrected, trained "
        "and evaluated) that workflowd itself, the installed packages and the plugins folder provide, "
        "with the plugin that provides it and the pipelines that use it.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: steps, tasks")
    p.set_defaults(func=cmd_steps)


def cmd_steps(args: argparse.Namespace) -> int:
    from ..plugins import plugin_manager
    from ..runtime import step_registry, task_registry

    settings = load_config(getattr(args, "config", None))
    pm = plugin_manager(settings.plugins_dir)
    steps, tasks = step_registry(settings, pm), task_registry(settings, pm)
    used = {name: [p for p, conf in settings.pipelines.items() if name in conf.steps] for name in steps.names()}
    out = {
        "steps": [
            {
                "name": name,
                "description": steps.get(name).description,
                "from": steps.origin(name),
                "task": name in tasks,
                "pipelines": used[name],
            }
            for name in steps.names()
        ],
        "tasks": [
            {
                "name": name,
                "description": tasks.get(name).description,
                "from": tasks.origin(name),
                "correction": tasks.get(name).correction.kind,
                "builtin_model": tasks.get(name).builtin_name,
                "data": tasks.get(name).data_help,
                "trains_from_files": _overrides(tasks.get(name), "train"),
                "retrains_from_corrections": tasks.get(name).retrainer is not None,
                "evaluates": _overrides(tasks.get(name), "evaluate"),
            }
            for name in tasks.names()
        ],
    }
    if args.json:
        print_json(out)
        return 0
    console.print("steps:", markup=False)
    for s in out["steps"]:
        where = f"pipelines {', '.join(s['pipelines'])}" if s["pipelines"] else "in no pipeline"
        console.print(f"  {s['name']:<12} from {s['from']} ({where}){' · a task' if s['task'] else ''}", markup=False)
        if s["description"]:
            console.print(f"  {'':<12} {s['description']}", markup=False)
    console.print("tasks:", markup=False)
    for t in out["tasks"]:
        can = [w for w, ok in (("train", t["trains_from_files"]), ("retrain", t["retrains_from_corrections"]),
                               ("eval", t["evaluates"])) if ok]
        console.print(f"  {t['name']:<12} from {t['from']}; corrections: {t['correction']}; "
                      f"{', '.join(can) or 'corrections only'}; until trained: {t['builtin_model']}", markup=False)
        if t["data"] and t["trains_from_files"]:
            console.print(f"  {'':<12} train/eval files: {t['data']}", markup=False)
    return 0


def _overrides(task_cls: type, method: str) -> bool:
    from ..tasks import Task

    return getattr(task_cls, method) is not getattr(Task, method)
