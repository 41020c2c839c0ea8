"""What the steps read of real mail: the whole text, the body, and the content spans.

Every message in ../shared/data/emails goes through the real extractor; for each way of
reading it, the share of messages whose read text still holds a header line ("From: ...",
"Subject: ..."), a ">"-quoted line or a mailing-list footer line, and how much of the body
is read. Run: python benchmarks/readable_mail.py (about 15 seconds).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from workflowd.config import ExtractSettings
from workflowd.extract import extract_file
from workflowd.readable import content_spans

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "emails"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
KINDS = {
    "header": re.compile(r"^(?:From|Subject|To|Cc|Date|Sent): \S", re.MULTILINE),
    "quote": re.compile(r"^[ \t]*>", re.MULTILINE),
    "footer": re.compile(
        r"listinfo|^\S+ mailing list\s*$|^To unsubscribe|sf\.net email is sponsored|Yahoo! Groups|^_{30,}\s*$",
        re.MULTILINE | re.IGNORECASE,
    ),
}
GROUPS = {"easy_ham": "ham", "easy_ham_2": "ham", "hard_ham": "ham", "spam": "spam", "spam_2": "spam"}


def main() -> None:
    if not DATA.exists():
        raise SystemExit(f"mail data not found at {DATA} (../shared/data beside the repository)")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds = 0.0
    with tempfile.TemporaryDirectory() as blobs:
        for path in sorted(DATA.rglob("*.eml")):
            group = GROUPS.get(path.parent.name, "fixtures")
            try:
                doc = extract_file(path, ExtractSettings(), Path(blobs))
            except Exception:  # noqa: BLE001, S112 - a broken fixture is not what is measured here
                continue
            start = doc.meta["body_start"]
            t0 = time.perf_counter()
            spans = content_spans(doc.text, doc.media_type, doc.meta)
            seconds += time.perf_counter() - t0
            read = {
                "text": doc.text,
                "body": doc.text[start:],
                "content": "\n".join(doc.text[a:b] for a, b in spans),
            }
            for g in (group, "all"):
                c = counts[g]
                c["messages"] += 1
                for way, text in read.items():
                    for kind, rx in KINDS.items():
                        c[f"{way}:{kind}"] += bool(rx.search(text))
                if read["body"].strip():
                    c["with body"] += 1
                    c["content kept"] += bool(read["content"].strip())
                    c["body chars"] += len(read["body"].strip())
                    c["content chars"] += sum(b - a for a, b in spans)
    print("share of messages whose read text holds a line of each kind (whole text -> body -> content spans)")
    print(f"{'group':9} {'n':>5}  {'header':^24}  {'quote':^24}  {'footer':^24}  body read")
    for g in ("ham", "spam", "fixtures", "all"):
        c = counts[g]
        n = c["messages"]
        cells = []
        for kind in KINDS:
            cells.append(" -> ".join(f"{c[f'{way}:{kind}'] / n:5.1%}" for way in ("text", "body", "content")))
        kept = f"{c['content chars'] / max(1, c['body chars']):.0%} ({c['content kept']}/{c['with body']} kept text)"
        print(f"{g:9} {n:>5}  {'  '.join(f'{x:24}' for x in cells)}  {kept}")
    print(f"content_spans: {1000 * seconds / counts['all']['messages']:.2f} ms per message")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / "readable_mail.json"
    out.write_text(json.dumps({g: dict(c) for g, c in counts.items()}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
