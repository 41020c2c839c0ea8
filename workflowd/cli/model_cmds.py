"""``workflowd train | eval | models``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import load_config
from ..models.registry import measured
from . import args as types
from .output import console, print_json

TASKS_HELP = "classify, entities, summarize, sentiment, or a task a plugin adds"


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train a task's model from labelled data, or retrain it from your corrections",
        description='Train a model from labelled data: JSONL {"text", "label"} lines for classify; '
        "a CoNLL file for entities (with --valid FILE to choose the epoch); JSONL or TSV "
        "(sentence/text and label columns; labels negative/neutral/positive or 0/1) for "
        'sentiment, --data given once per file; {"text", "summary"} lines for summarize. '
        "It is measured on a held-out part, registered as a new version and promoted (unless --no-promote). "
        "A running daemon uses a promoted version from its next batch on. Without --data, the task is "
        "retrained from your corrections with a replay of what the model in use knew, and promoted only "
        "if it measures better than the model in use on corrections it was not trained on, no worse on "
        "the validation data, and (classify) knows every label the model in use knows.",
    )
    p.add_argument("--task", default="classify", metavar="TASK", help=f"{TASKS_HELP} (default classify)")
    p.add_argument(
        "--data",
        type=Path,
        metavar="FILE",
        action="append",
        help="labelled examples (sentiment: repeat for several files). Without it, the task is retrained "
        "from your corrections, with a replay of what the model in use knew, and promoted only if it "
        "measures better",
    )
    p.add_argument(
        "--valid",
        type=Path,
        metavar="FILE",
        help="entities: a CoNLL file that chooses the epoch (default: every 10th training document)",
    )
    p.add_argument(
        "--method",
        choices=("head", "lora", "full"),
        help="classify: head, a head on frozen embeddings (seconds; the default); lora: LoRA adapters "
        "(minutes); full: every weight (minutes, a 90 MB artifact)",
    )
    p.add_argument("--epochs", type=types.positive_int, help="passes over the data (default: the task's)")
    p.add_argument("--lr", type=types.positive_float, help="learning rate (default: the task's)")
    p.add_argument("--batch-size", type=types.positive_int, help="examples per step (default: the task's)")
    p.add_argument("--weight-decay", type=types.fraction, help="classify: AdamW weight decay (default 0.01)")
    p.add_argument("--dropout", type=types.share, help="classify: dropout before the head (default 0.1)")
    p.add_argument(
        "--val-share",
        type=types.share,
        help="share of each label held out for early stopping and calibration (classify: default 0.2; "
        "sentiment: 0.05 of each file; none when the data is too small)",
    )
    p.add_argument("--seed", type=types.non_negative_int, default=13, help="random seed (default 13)")
    p.add_argument(
        "--no-unlabeled",
        action="store_true",
        help="classify: do not self-train (method head) on the documents already in the store",
    )
    p.add_argument("--no-promote", action="store_true", help="register the version without using it")
    p.add_argument("--json", action="store_true", help="print the new version as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="measure the model in use on labelled data",
        description="Measure the promoted model (or --version: a registered one, or zero-shot / shipped "
        'for the built-in one). classify: a JSONL file of {"text", "label"} lines; accuracy, '
        "macro-F1 and per-label precision, recall, F1 and support. entities: a CoNLL file; "
        "entity-level precision, recall and F1 with exact spans (seqeval), per type. sentiment: "
        "JSONL or TSV; accuracy and macro-F1 (negative against positive only when the file "
        'has no neutral example). summarize: {"text", "summary"} lines; ROUGE-1/2/L F1.',
    )
    p.add_argument("--task", default="classify", metavar="TASK", help=f"{TASKS_HELP} (default classify)")
    p.add_argument("--data", type=Path, required=True, metavar="FILE")
    p.add_argument(
        "--version", help="a registered version instead of the promoted one; zero-shot or shipped: the built-in model"
    )
    p.add_argument(
        "--sentences",
        type=types.positive_int,
        metavar="N",
        help="summarize: sentences per summary (default: as many as the reference has)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: task, n, metrics")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "models",
        parents=[common],
        help="list model versions, or roll back",
        description="`models list` shows every version with its data and metrics; "
        "`models rollback TASK [VERSION]` goes back to VERSION or to the one before.",
    )
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    lp = msub.add_parser("list", parents=[common], help="every version of every task")
    lp.add_argument("--task", metavar="TASK")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_models_list)
    rp = msub.add_parser("rollback", parents=[common], help="use an earlier version")
    rp.add_argument("task", metavar="TASK")
    rp.add_argument("version", nargs="?")
    rp.set_defaults(func=cmd_models_rollback)
    p.set_defaults(func=cmd_models_list, task=None, json=False)


def _task(settings: Any, name: str) -> Any:
    """The named task, loaded with the plugins (UnknownTaskError lists the tasks)."""
    from ..models.provider import ModelProvider
    from ..runtime import task_registry

    return task_registry(settings).get(name)(settings, ModelProvider(settings))


def _options(args: argparse.Namespace) -> Any:
    from ..tasks import TrainOptions

    return TrainOptions(
        data=list(args.data or []),
        valid=args.valid,
        method=args.method,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        val_share=args.val_share,
        seed=args.seed,
        unlabeled=not args.no_unlabeled,
        promote=not args.no_promote,
    )


def cmd_train(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    task = _task(settings, args.task)
    options = _options(args)
    task.check_options(options)
    if not args.data:
        return _retrain(args, settings, task, options)
    with EpochBar(args, task, "loading the encoder" if task.epoch_metric else "encoding and fitting") as progress:
        trained = task.train(options, progress)
    if args.json:
        print_json(trained.version.public())
        return 0
    for line in trained.lines:
        console.print(line, markup=False)
    print_requeued(task.name, trained.version.requeued)
    return 0


def _retrain(args: argparse.Namespace, settings: Any, task: Any, options: Any) -> int:
    from ..training.retrain import retrain

    with EpochBar(args, task, f"retraining {task.name} from your corrections") as progress:
        result = retrain(settings, task.make_retrainer(options, progress), promote=not args.no_promote)
    if args.json:
        print_json({**result.version.public(), "promoted": result.promoted, "reason": result.reason})
        return 0
    v = result.version
    state = f"promoted: {result.reason}" if result.promoted else f"{v.status}: {result.reason}"
    console.print(
        f"{task.name} {v.version} from {v.meta['data']['corrections']} corrections: {state}", markup=False
    )
    comparison = result.comparison
    for part, label in (
        ("held_out", f"corrections it was not trained on ({comparison['measured_by']})"),
        ("validation_data", "validation data"),
        ("kept", f"confident answers of {comparison['current_version']} on uncorrected documents"),
    ):
        c = comparison.get(part)
        if c and c["n"]:
            console.print(
                f"  {label} (n={c['n']}): {comparison['score']} {c['candidate']:.3f} against "
                f"{c['current']:.3f} ({comparison['current_version']}); better on {c['wins']}, "
                f"worse on {c['losses']}",
                markup=False,
            )
    print_requeued(task.name, v.requeued)
    return 0


class EpochBar:
    """A rich progress bar with the loss and validation metric of each epoch (none with --json)."""

    def __init__(self, args: argparse.Namespace, task: Any, description: str):
        self.args, self.task, self.description = args, task, description
        columns = [
            TextColumn("epoch {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        ]
        if task.epoch_metric is None:  # no epochs: one fit
            columns = [TextColumn("{task.description}"), TimeElapsedColumn()]
        self.bar = Progress(*columns, console=console, transient=False, disable=args.json)

    def __enter__(self) -> Any:
        self.bar.__enter__()
        self.task_id = self.bar.add_task(self.description, total=None)
        val_name = self.task.epoch_metric or "val score"

        def progress(r: Any) -> None:
            val = "" if r.val_loss is None else f"  val loss {r.val_loss:.4f}"
            if r.val_macro_f1 is not None:
                val += f"  {val_name} {r.val_macro_f1:.4f}"
            self.bar.update(
                self.task_id, total=r.epochs, completed=r.epoch, description=f"loss {r.train_loss:.4f}{val}"
            )
            if not self.args.json and (r.seconds >= 1 or r.epoch == r.epochs):  # not a line per tiny epoch
                self.bar.console.print(
                    f"epoch {r.epoch}/{r.epochs}: loss {r.train_loss:.4f}{val} ({r.seconds:.0f} s)", markup=False
                )

        return progress

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)


def cmd_eval(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    task = _task(settings, args.task)
    if args.sentences is not None and "sentences" not in task.eval_options:
        from ..errors import ModelError

        raise ModelError(f"--sentences does not apply to {task.name}")
    result = task.evaluate(args.data, version=args.version, sentences=args.sentences)
    if args.json:
        print_json(result)
        return 0
    m = result["metrics"]
    head = f"{result['task']} {result['model_version']} on {result['n']}"
    if "rouge1" in m:
        console.print(f"{head} documents: ROUGE-1 {m['rouge1']:.4f}, ROUGE-2 {m['rouge2']:.4f}, "
                      f"ROUGE-L {m['rougeL']:.4f}", markup=False)
    elif "per_type" in m:
        console.print(f"{head} sentences: precision {m['precision']:.4f}, recall {m['recall']:.4f}, "
                      f"F1 {m['f1']:.4f}", markup=False)
        _print_per_class("type", m["per_type"])
    else:
        console.print(f"{head} examples: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}", markup=False)
        _print_per_class("label", m["per_class"])
    a = m.get("abstention")
    if a and a["accuracy_labelled"] is not None:
        console.print(
            f"with abstention below {a['threshold']}: labels {a['coverage']:.1%} of documents, "
            f"accuracy on those {a['accuracy_labelled']:.4f}",
            markup=False,
        )
    return 0


def _print_per_class(first: str, rows: dict[str, dict[str, Any]]) -> None:
    """Precision, recall, F1 and support of each label (or entity type)."""
    table = Table(box=None)
    for col in (first, "precision", "recall", "f1", "support"):
        table.add_column(col, justify="left" if col == first else "right")
    for name, row in rows.items():
        table.add_row(
            name, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"])
        )
    console.print(table)


def _registry(args: argparse.Namespace):
    from ..models.registry import ModelRegistry
    from ..store import Store

    settings = load_config(getattr(args, "config", None))
    return ModelRegistry(Store(settings.db_path), settings.models_dir, repredict=settings.training.repredict)


def cmd_models_list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    versions = registry.list(getattr(args, "task", None))
    if getattr(args, "json", False):
        print_json([v.public() for v in versions])
        return 0
    if not versions:
        console.print(
            "no trained models yet: classify works zero-shot from your label descriptions; "
            "`workflowd train --task classify --data FILE` trains one"
        )
        return 0
    table = Table(box=None)
    for col in ("task", "version", "status", "method", "examples", "measured", "created"):
        table.add_column(col)
    for v in versions:
        table.add_row(
            v.task,
            v.version,
            v.status,
            str(v.meta.get("method", "")).split(" ")[0],
            str(v.meta.get("data", {}).get("n", "")),
            measured(v.metrics),
            v.created_at[:10],
        )
    console.print(table)
    return 0


def cmd_models_rollback(args: argparse.Namespace) -> int:
    registry = _registry(args)
    version = registry.rollback(args.task, args.version)
    if version is None:
        console.print(f"{args.task}: back to the built-in model (no trained version in use)")
    else:
        console.print(f"{args.task}: now using {version.version}")
    print_requeued(args.task, registry.requeued)
    return 0


def print_requeued(task: str, n: int) -> None:
    if n:
        console.print(
            f"{n} document(s) not yet reviewed are queued to re-run {task} with it "
            "(the daemon does it; `workflowd status` shows the queue)"
        )
