"""Every PDF and e-mail of the shared corpus through one sandbox: a result or a clean error.

Run with ``-s`` to see the counts per folder and the distinct failure reasons.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from workflowd.config import ExtractSettings
from workflowd.errors import ExtractionError
from workflowd.extract import Extraction, SandboxedExtractor

from .conftest import shared_path


def _group(path: Path, root: Path) -> str:
    """The folder a file is counted under: emails/<source>/<group> or pdfs/<source>."""
    parts = path.relative_to(root).parts[:-1]
    return "/".join(parts[:3] if parts[:1] == ("emails",) else parts[:2]) or "."


def test_every_shared_file_extracts_or_fails_cleanly(blob_dir: Path) -> None:
    root = shared_path()
    files = sorted(p for top in ("pdfs", "emails") for p in shared_path(top).rglob("*") if p.is_file())
    assert len(files) > 100
    settings = ExtractSettings(timeout=30)
    counts: Counter[tuple[str, str]] = Counter()
    reasons: Counter[str] = Counter()
    problems: list[str] = []
    started = time.monotonic()
    with SandboxedExtractor(settings, blob_dir) as sandbox:
        for path in files:
            group = _group(path, root)
            try:
                result = sandbox.extract(path)
            except ExtractionError as exc:
                message = str(exc)
                counts[group, "failed"] += 1
                reasons[message] += 1
                if not message or "\n" in message or len(message) >= 300 or "Traceback" in message:
                    problems.append(f"{path}: unreadable message {message!r}")
            except Exception as exc:  # noqa: BLE001 - the point of the test is that this never happens
                problems.append(f"{path}: {type(exc).__name__}: {exc}")
            else:
                counts[group, "ok"] += 1
                if not isinstance(result, Extraction) or not result.sha256:
                    problems.append(f"{path}: bad result {result!r}")
    elapsed = time.monotonic() - started

    print(f"\n{len(files)} files in {elapsed:.1f} s")
    for group in sorted({g for g, _ in counts}):
        print(f"  {group}: {counts[group, 'ok']} ok, {counts[group, 'failed']} failed")
    print("distinct failure reasons:")
    for message, n in reasons.most_common():
        print(f"  {n:4d}  {message}")
    assert not problems, "\n".join(problems[:20])
    assert sum(n for (g, kind), n in counts.items() if kind == "ok" and g.startswith("emails")) > 2000
