"""HTML to readable text: visible text only, blocks as lines, paragraphs kept apart."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from ..config import ExtractSettings
from ..errors import ExtractionError
from .result import Extraction
from .sniff import HTML
from .textutil import decode_bytes, short_reason

__all__ = ["extract_html", "html_to_text", "decode_html"]

_DROP = frozenset("script style noscript template head svg math object iframe select datalist".split())
_PARAGRAPH = frozenset("p h1 h2 h3 h4 h5 h6 blockquote pre table ul ol dl figure hr address form".split())
_BLOCK = frozenset(
    "div section article header footer nav aside main li dt dd tr caption figcaption fieldset legend "
    "details summary center title body html option label".split()
)
_CELL = frozenset(("td", "th"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_XML_DECL = re.compile(r"\A\s*<\?xml[^>]*\?>")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Private-use characters stand for breaks and kept spaces while whitespace is collapsed:
# block edges (runs of them make one line break), paragraph edges, <br> and preformatted newlines.
_BREAK, _PARA, _LINE, _SPACE = "\ue000", "\ue001", "\ue003", "\ue002"
_GAP = re.compile("[\\s\ue000\ue001\ue003]+")


def decode_html(data: bytes) -> tuple[str, str]:
    """Decode HTML bytes using a BOM, the declared ``<meta charset>`` or detection."""
    match = _META_CHARSET.search(data[:4096])
    declared = match.group(1).decode("ascii") if match else None
    return decode_bytes(data, declared)


def html_to_text(markup: str) -> tuple[str, str | None]:
    """The visible text of an HTML document and its ``<title>``; empty text for empty markup."""
    markup = _XML_DECL.sub("", markup.replace("\x00", ""), count=1)
    if not markup.strip():
        return "", None
    parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True, no_network=True)
    try:
        root = lxml_html.document_fromstring(markup, parser=parser)
    except etree.ParserError:
        return "", None  # "Document is empty": markup with nothing in it
    except (etree.LxmlError, ValueError) as exc:
        raise ExtractionError(f"damaged HTML: {short_reason(exc)}") from None
    return _render(root), _title(root)


def extract_html(data: bytes, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    """An HTML file as its visible text, titled by its ``<title>``."""
    markup, encoding = decode_html(data)
    text, title = html_to_text(markup)
    return Extraction(media_type=HTML, text=text, title=title, meta={"encoding": encoding})


def _title(root: etree._Element) -> str | None:
    """The document's title, whitespace collapsed, or None."""
    for el in root.iter("title"):
        if any(a.tag in ("svg", "math") for a in el.iterancestors()):
            continue
        title = " ".join(el.text_content().split())
        return title or None
    return None


def _hidden(el: etree._Element) -> bool:
    """Elements a browser would not show: hidden inputs, ``hidden`` attributes, display:none."""
    if el.tag == "input":
        return True  # inputs show no text of their own; hidden ones carry tokens
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def _render(root: etree._Element) -> str:
    """Walk the tree without recursion (deep nesting is common in mail) and lay out the text."""
    out: list[str] = []
    in_pre = 0
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        shown = tag not in _DROP and not _hidden(el)
        if event == "start":
            if not shown:
                walker.skip_subtree()
                continue
            in_pre += tag == "pre"
            out.append(_marker(tag))
            if el.text:
                out.append(_keep(el.text) if in_pre else el.text)
            continue
        if shown:
            in_pre -= tag == "pre"
            out.append("" if tag == "br" else _marker(tag))
        if el.tail:
            out.append(_keep(el.tail) if in_pre else el.tail)
    return _layout("".join(out))


def _marker(tag: str) -> str:
    """The break an element's start or end puts in the text."""
    if tag == "br":
        return _LINE
    if tag in _PARAGRAPH:
        return _PARA
    if tag in _BLOCK:
        return _BREAK
    if tag in _CELL:
        return " "
    return ""


def _keep(text: str) -> str:
    """Preformatted text: its newlines are real breaks and its spaces are kept."""
    return text.replace("\n", _LINE).replace(" ", _SPACE).replace("\t", _SPACE)


def _layout(raw: str) -> str:
    """Collapse whitespace, then turn break markers into newlines (at most one blank line)."""
    text = _GAP.sub(_gap, raw)
    return "\n".join(line.strip(" ") for line in text.split("\n")).replace(_SPACE, " ").strip()


def _gap(match: re.Match[str]) -> str:
    """One run of whitespace and break markers becomes a space, a newline or a blank line."""
    run = match.group()
    if _PARA in run or run.count(_LINE) >= 2:
        return "\n\n"
    if _LINE in run or _BREAK in run:
        return "\n"
    return " "
