"""``workflowd train | eval | models``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import load_config
from .output import console, print_json

TASKS = ("classify", "entities", "summarize", "sentiment")


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
        "if it is not worse than the model in use on held-out corrections and validation data.",
    )
    p.add_argument("--task", choices=TASKS, default="classify")
    p.add_argument(
        "--data",
        type=Path,
        metavar="FILE",
        action="append",
        help="labelled examples (sentiment: repeat for several files). Without it, classify "
        "retrains the task from your corrections, with a replay of what the model in use knew, and "
        "promotes it only if it measures no worse",
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
        default="head",
        help="head: a head on frozen embeddings (seconds); lora: LoRA adapters (minutes); "
        "full: every weight (minutes, a 90 MB artifact). Default: head",
    )
    p.add_argument("--epochs", type=int, help="passes over the data (default: the method's)")
    p.add_argument("--lr", type=float, help="learning rate (default: the method's)")
    p.add_argument("--batch-size", type=int, help="examples per step (default: the method's)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument(
        "--val-share",
        type=float,
        help="share of each label held out for early stopping and calibration (default 0.2; "
        "sentiment: 0.05 of each file; none when the data is too small)",
    )
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--no-unlabeled",
        action="store_true",
        help="do not self-train (method head) on the documents already in the store",
    )
    p.add_argument("--no-promote", action="store_true", help="register the version without using it")
    p.add_argument("--json", action="store_true", help="print the new version as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="measure the model in use on labelled data",
        description="Measure the promoted model (or --version, or the built-in one when "
        'none is trained). classify: a JSONL file of {"text", "label"} lines; accuracy, '
        "macro-F1 and per-label precision, recall, F1 and support. entities: a CoNLL file; "
        "entity-level precision, recall and F1 with exact spans (seqeval), per type. sentiment: "
        "JSONL or TSV; accuracy and macro-F1 (negative against positive only when the file "
        'has no neutral example). summarize: {"text", "summary"} lines; ROUGE-1/2/L F1.',
    )
    p.add_argument("--task", choices=TASKS, default="classify")
    p.add_argument("--data", type=Path, required=True, metavar="FILE")
    p.add_argument("--version", help="a registered version instead of the promoted one")
    p.add_argument(
        "--sentences",
        type=int,
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
    lp.add_argument("--task", choices=TASKS)
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_models_list)
    rp = msub.add_parser("rollback", parents=[common], help="use an earlier version")
    rp.add_argument("task", choices=TASKS)
    rp.add_argument("version", nargs="?")
    rp.set_defaults(func=cmd_models_rollback)
    p.set_defaults(func=cmd_models_list, task=None, json=False)


def cmd_train(args: argparse.Namespace) -> int:
    from ..training.run import train_from_file

    settings = load_config(getattr(args, "config", None))
    if not args.data:
        return _retrain(args, settings)
    params = _classify_params(args, val_share=0.2 if args.val_share is None else args.val_share)
    description = "loading the encoder"
    if args.task == "summarize":
        description = "encoding the documents and fitting the salience head"
    with EpochBar(args, description) as progress:
        version, outcome = train_from_file(
            settings,
            args.task,
            args.data,
            params,
            promote=not args.no_promote,
            progress=progress,
            use_store=not args.no_unlabeled,
            valid_path=args.valid,
            val_share=args.val_share,
        )
    if args.json:
        print_json(version.public())
        return 0
    _print_train_result(args, version, outcome)
    print_requeued(args.task, version.requeued)
    return 0


def _print_train_result(args: argparse.Namespace, version: Any, outcome: Any) -> None:
    m = outcome.metrics
    state = "promoted" if version.status == "promoted" else "registered, not promoted"
    if args.task == "summarize":
        console.print(
            f"summarize {version.version}: {state} ({outcome.meta['train_seconds']} s, "
            f"{outcome.meta['data']['n']} documents)",
            markup=False,
        )
        if m.get("validation") == "held out":
            console.print(
                f"validation (n={m['n']}): ROUGE-1 {m['rouge1']:.4f}, ROUGE-2 {m['rouge2']:.4f}, "
                f"ROUGE-L {m['rougeL']:.4f} (TextRank: {m['textrank']['rouge2']:.4f} / "
                f"{m['textrank']['rougeL']:.4f})",
                markup=False,
            )
        return
    if args.task == "entities":
        console.print(
            f"entities {version.version}: {state} ({outcome.meta['train_seconds']} s, "
            f"{outcome.meta['train_documents']} documents, best epoch {outcome.meta['best_epoch']})",
            markup=False,
        )
        if m:
            console.print(
                f"validation: precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f}",
                markup=False,
            )
        return
    if args.task == "sentiment":
        console.print(
            f"sentiment {version.version}: {state} ({outcome.meta['train_seconds']} s, "
            f"best epoch {outcome.meta['best_epoch']})",
            markup=False,
        )
        for name, v in m["validation"].items():
            console.print(
                f"validation {name} (n={sum(r['support'] for r in v['per_class'].values())}): "
                f"accuracy {v['accuracy']:.4f}, macro-F1 {v['macro_f1']:.4f}",
                markup=False,
            )
        return
    console.print(
        f"{args.task} {version.version}: {state} ({outcome.meta['train_seconds']} s, "
        f"{outcome.meta['data']['n']} examples, method {outcome.meta['method']})",
        markup=False,
    )
    if "macro_f1" in m:
        console.print(
            f"validation ({m['validation']}, n={m.get('n', outcome.meta['data']['n_val'])}): accuracy "
            f"{m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, ECE {m['ece']:.4f}",
            markup=False,
        )
    else:
        console.print("no validation: too few examples to hold any out", markup=False)


def _retrain(args: argparse.Namespace, settings: Any) -> int:
    from ..training.retrain import retrain

    with EpochBar(args, f"retraining {args.task} from your corrections") as progress:
        result = retrain(
            settings, args.task, promote=not args.no_promote, params=_retrain_params(args), progress=progress
        )
    if args.json:
        print_json({**result.version.public(), "promoted": result.promoted, "reason": result.reason})
        return 0
    v = result.version
    state = "promoted" if result.promoted else f"{v.status}: {result.reason}"
    console.print(
        f"{args.task} {v.version} from {v.meta['data']['corrections']} corrections: {state}", markup=False
    )
    comparison = result.comparison
    for part, label in (
        ("held_out", "held-out corrections"),
        ("previous_validation", "previous validation corrections"),
        ("validation_data", "validation data"),
    ):
        c = comparison.get(part)
        if c:
            console.print(
                f"  {label} (n={c['n']}): {comparison['score']} {c['candidate']:.3f} against "
                f"{c['current']:.3f} ({comparison['current_version']}); better on {c['wins']}, "
                f"worse on {c['losses']}",
                markup=False,
            )
    print_requeued(args.task, v.requeued)
    return 0


def _classify_params(args: argparse.Namespace, **more: Any) -> Any:
    """The classifier's training parameters from the command line (the method's defaults for
    what is not given)."""
    from ..training.classify import ClassifyParams

    return ClassifyParams(
        method=args.method,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        seed=args.seed,
        **more,
    )


def _retrain_params(args: argparse.Namespace) -> Any:
    """The task's retraining parameters, with what the command line overrides."""
    if args.task == "classify":
        return _classify_params(args)
    if args.task == "summarize":
        return None
    if args.task == "entities":
        from ..training.retrain.entities import retrain_params
    else:
        from ..training.retrain.sentiment import retrain_params
    from ..training.run import override

    params = retrain_params()
    params.seed = args.seed
    return override(params, args)


class EpochBar:
    """A rich progress bar with the loss and validation metric of each epoch (none with --json)."""

    NAMES = {"entities": "val F1", "sentiment": "val accuracy"}

    def __init__(self, args: argparse.Namespace, description: str):
        self.args, self.description = args, description
        columns = [
            TextColumn("epoch {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        ]
        self.bar = Progress(*columns, console=console, transient=False, disable=args.json)

    def __enter__(self) -> Any:
        self.bar.__enter__()
        self.task_id = self.bar.add_task(self.description, total=None)
        if self.args.task == "summarize":  # no epochs: one fit of the salience head
            self.bar.columns = (TextColumn("{task.description}"), TimeElapsedColumn())
        val_name = self.NAMES.get(self.args.task, "val macro-F1")

        def progress(r: Any) -> None:
            val = "" if r.val_loss is None else f"  val loss {r.val_loss:.4f}"
            if r.val_macro_f1 is not None:
                val += f"  {val_name} {r.val_macro_f1:.4f}"
            self.bar.update(
                self.task_id, total=r.epochs, completed=r.epoch, description=f"loss {r.train_loss:.4f}{val}"
            )
            if self.args.json:
                return
            console.log(f"epoch {r.epoch}/{r.epochs}: loss {r.train_loss:.4f}{val} ({r.seconds:.0f} s)",
                        markup=False)

        return progress

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)


def cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate

    settings = load_config(getattr(args, "config", None))
    result = evaluate(settings, args.task, args.data, version=args.version, sentences=args.sentences)
    if args.json:
        print_json(result)
        return 0
    m = result["metrics"]
    if args.task == "summarize":
        console.print(
            f"summarize {result['model_version']} on {result['n']} documents: ROUGE-1 {m['rouge1']:.4f}, "
            f"ROUGE-2 {m['rouge2']:.4f}, ROUGE-L {m['rougeL']:.4f}",
            markup=False,
        )
        return 0
    if args.task == "entities":
        console.print(
            f"entities {result['model_version']} on {result['n']} sentences: precision {m['precision']:.4f}, "
            f"recall {m['recall']:.4f}, F1 {m['f1']:.4f}",
            markup=False,
        )
        _print_per_class("type", m["per_type"])
        return 0
    console.print(
        f"{result['task']} {result['model_version']} on {result['n']} examples: accuracy "
        f"{m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}",
        markup=False,
    )
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


def _registry(args: argparse.Namespace):  # noqa: ANN202
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


HEADLINES = (("macro_f1", "val macro-F1"), ("f1", "val F1"), ("mean_accuracy", "val accuracy"),
             ("rouge2", "val ROUGE-2"))


def measured(metrics: dict[str, Any]) -> str:
    """A version's main figures: against the model it replaced on held-out corrections (a
    retrained one), and its validation metric."""
    parts = []
    held = metrics.get("held_out_corrections")
    if held:
        parts.append(f"held-out {held['candidate']:.3f} (was {held['current']:.3f})")
    for key, name in HEADLINES:
        if isinstance(metrics.get(key), int | float):
            parts.append(f"{name} {metrics[key]:.3f}")
            break
    return ", ".join(parts)


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
