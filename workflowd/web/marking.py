"""A document's text as HTML with its entities and summary sentences marked in place."""

from __future__ import annotations

from html import escape
from itertools import pairwise
from typing import Any


def marked_text(text: str, entities: list[dict[str, Any]], sentences: list[dict[str, Any]]) -> str:
    """``text`` escaped, each entity in ``<mark class="ent ent-TYPE">`` and each summary sentence
    in ``<span class="summary">``. Every piece between two boundaries is wrapped on its own, so
    spans that overlap or cross each other still give well-formed HTML."""
    n = len(text)
    ents = [(max(0, int(e["start"])), min(n, int(e["end"])), str(e.get("type", "")), e.get("confidence"))
            for e in entities if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)]
    sents = [(max(0, int(s["start"])), min(n, int(s["end"])))
             for s in sentences if isinstance(s.get("start"), int) and isinstance(s.get("end"), int)]
    cuts = sorted({0, n, *(a for a, _b, *_ in ents), *(b for _a, b, *_ in ents), *(a for a, _ in sents),
                   *(b for _, b in sents)})
    out = []
    for a, b in pairwise(cuts):
        if a >= b:
            continue
        piece = escape(text[a:b])
        ent = next((e for e in ents if e[0] <= a and b <= e[1]), None)
        if ent is not None:
            kind = "".join(c for c in ent[2] if c.isalnum())
            tip = f"{ent[2]}" + (f" {ent[3]:.2f}" if isinstance(ent[3], int | float) else "")
            piece = f'<mark class="ent ent-{kind}" title="{escape(tip)}">{piece}</mark>'
        if any(s[0] <= a and b <= s[1] for s in sents):
            piece = f'<span class="summary">{piece}</span>'
        out.append(piece)
    return "".join(out)
