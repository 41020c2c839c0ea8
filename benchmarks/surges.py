"""Surges on simulated streams: false alarms where nothing changes, and how soon a real jump is seen.

Each document is negative with a fixed probability (independent draws); the test runs after every
document, as in the daemon, with the decision of workflowd.alerts.surges.surge_test (the issue's
defaults: window 20, baseline 200, min_count 5, factor 1.5, alpha 0.001). A cooldown is counted
in documents: 360 is the 6 h default at one document a minute. No store, no model: the statistics only.

    python benchmarks/surges.py                  # a few seconds
    python benchmarks/surges.py --docs 200000 --trials 1000   # quicker, rougher
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc

from workflowd.alerts.settings import SurgeSettings
from workflowd.alerts.surges import surge_test

RATES = (0.05, 0.15, 0.30, 0.50)
JUMPS = ((0.05, 0.15), (0.05, 0.25), (0.15, 0.30), (0.15, 0.45), (0.30, 0.60), (0.50, 0.80))
COOLDOWNS = (0, 60, 360)  # documents


def decisions(surge: SurgeSettings) -> np.ndarray:
    """surge_test's answer for every (k in the window, b in the baseline): a lookup table."""
    return np.array([[surge_test(k, b, surge).surge for b in range(surge.baseline + 1)]
                     for k in range(surge.window + 1)])


def fired(hits: np.ndarray, table: np.ndarray, window: int, baseline: int) -> np.ndarray:
    """Whether the test fires after each document (rows: streams), False until the baseline is full."""
    c = np.concatenate([np.zeros(hits.shape[:-1] + (1,), dtype=np.int64), np.cumsum(hits, axis=-1)], axis=-1)
    need = window + baseline
    end = np.arange(need, hits.shape[-1] + 1)
    k = c[..., end] - c[..., end - window]
    b = c[..., end - window] - c[..., end - need]
    out = np.zeros(hits.shape, dtype=bool)
    out[..., need - 1:] = table[k, b]
    return out


def with_cooldown(positions: np.ndarray, cooldown: int) -> int:
    """How many alerts the firing positions give when each alert silences the next ``cooldown`` documents."""
    count, last = 0, None
    for pos in positions:
        if last is None or pos - last >= cooldown:
            count, last = count + 1, pos
    return count


def false_alarms(rate: float, docs: int, table: np.ndarray, surge: SurgeSettings, rng: np.random.Generator
                 ) -> dict[str, float]:
    hits = rng.random(docs) < rate
    positions = np.flatnonzero(fired(hits, table, surge.window, surge.baseline))
    tested = docs - (surge.window + surge.baseline) + 1
    out = {"rate": rate, "documents": docs, "tests": tested, "fired": len(positions) / tested}
    for cd in COOLDOWNS:
        out[f"per_10k_cooldown_{cd}"] = with_cooldown(positions, cd) * 10_000 / tested
    return out


def delays(before: float, after: float, trials: int, table: np.ndarray, surge: SurgeSettings,
           rng: np.random.Generator, *, start: int = 600, horizon: int = 400) -> dict[str, float]:
    """Documents at the new rate until the test fires (the first one at the new rate is 1)."""
    hits = np.concatenate([rng.random((trials, start)) < before, rng.random((trials, horizon)) < after], axis=1)
    later = fired(hits, table, surge.window, surge.baseline)[:, start:]
    seen = later.any(axis=1)
    delay = np.where(seen, later.argmax(axis=1) + 1, horizon + 1)
    return {
        "before": before, "after": after, "trials": trials,
        "median": float(np.median(delay)), "p90": float(np.percentile(delay, 90)),
        "within_20": float(np.mean(delay <= 20)), "within_50": float(np.mean(delay <= 50)),
        f"within_{horizon}": float(np.mean(seen)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2_000_000, help="documents per base rate")
    parser.add_argument("--trials", type=int, default=5000, help="streams per jump")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    surge = SurgeSettings(name="bench")  # the defaults of the issue
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    table = decisions(surge)
    results: dict[str, list[dict[str, float]]] = {"false_alarms": [], "delays": []}
    print(f"No change: {args.docs:,} documents per rate, window {surge.window}, baseline {surge.baseline}, "
          f"min_count {surge.min_count}, factor {surge.factor}, alpha {surge.alpha}")
    print("| negative share | tests that fire | alerts per 10,000 docs, no cooldown | cooldown 60 docs | "
          "cooldown 360 docs (6 h at 1/min) |")
    print("|---|---|---|---|---|")
    for rate in RATES:
        r = false_alarms(rate, args.docs, table, surge, rng)
        results["false_alarms"].append(r)
        print(f"| {rate:.0%} | {r['fired']:.2e} | {r['per_10k_cooldown_0']:.2f} | {r['per_10k_cooldown_60']:.2f} | "
              f"{r['per_10k_cooldown_360']:.2f} |")
    print(f"\nA jump after 600 documents: documents at the new rate until the alert ({args.trials:,} streams each)")
    print("| from | to | median | 90th percentile | within 20 | within 50 | within 400 |")
    print("|---|---|---|---|---|---|---|")
    for before, after in JUMPS:
        d = delays(before, after, args.trials, table, surge, rng)
        results["delays"].append(d)
        p90 = f"{d['p90']:.0f}" if d["p90"] <= 400 else "> 400"
        print(f"| {before:.0%} | {after:.0%} | {d['median']:.0f} | {p90} | {d['within_20']:.0%} | "
              f"{d['within_50']:.0%} | {d['within_400']:.0%} |")
    print(f"\n{time.perf_counter() - t0:.1f} s")
    bbc.save_results("surges", {"settings": surge.model_dump(), "seed": args.seed, **results})


if __name__ == "__main__":
    main()
