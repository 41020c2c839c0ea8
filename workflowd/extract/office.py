"""Word processor documents: DOCX through python-docx, ODT through its ``content.xml``."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree

from ..config import ExtractSettings
from ..errors import ExtractionError
from .result import Extraction
from .sniff import DOCX, ODT
from .textutil import short_reason

__all__ = ["extract_docx", "extract_odt"]

_MAX_TABLE_DEPTH = 8
_BLANK_LINES = re.compile(r"\n{3,}")
_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_ODT_BLOCKS = (f"{{{_TEXT_NS}}}p", f"{{{_TEXT_NS}}}h")
_ODT_SPACES = {f"{{{_TEXT_NS}}}s": " ", f"{{{_TEXT_NS}}}tab": "\t", f"{{{_TEXT_NS}}}line-break": "\n"}


def extract_docx(data: bytes, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    """Paragraphs and table cells in document order; the core-properties title as title."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_lines(block, 0))
            else:
                lines.append(block.text)
        title = _docx_title(document)
    except MemoryError:
        raise
    except Exception as exc:  # python-docx raises zip, XML, key and value errors on damaged files
        raise ExtractionError(f"damaged DOCX: {short_reason(exc)}") from None
    text = "\n".join(line.rstrip() for line in lines).strip("\n")
    return Extraction(media_type=DOCX, text=text, title=title, meta={"paragraphs": len(lines)})


def _table_lines(table: Any, depth: int) -> list[str]:
    """One line per table row (cells separated by tabs), nested tables after their row."""
    lines: list[str] = []
    for row in table.rows:
        seen: set[int] = set()
        cells, nested = [], []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue  # a merged cell is listed once per grid column it spans
            seen.add(id(cell._tc))
            cells.append(" ".join(p.text.strip() for p in cell.paragraphs if p.text.strip()))
            if depth < _MAX_TABLE_DEPTH:
                for inner in cell.tables:
                    nested.extend(_table_lines(inner, depth + 1))
        lines.append("\t".join(cells).rstrip())
        lines.extend(nested)
    return lines


def _docx_title(document: Any) -> str | None:
    """The title from the core properties; unreadable properties give no title."""
    try:
        title = (document.core_properties.title or "").strip()
    except Exception:
        return None
    return title or None


def extract_odt(data: bytes, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    """Paragraphs and headings of an OpenDocument text, in order."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            content = archive.read("content.xml")
            meta_xml = archive.read("meta.xml") if "meta.xml" in archive.namelist() else b""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        root = etree.fromstring(content, parser=parser)
        lines = [_odt_text(el) for el in root.iter(*_ODT_BLOCKS) if not _inside_block(el)]
        title = _odt_title(meta_xml, parser)
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged ODT: {short_reason(exc)}") from None
    text = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip("\n")
    return Extraction(media_type=ODT, text=text, title=title)


def _inside_block(el: etree._Element) -> bool:
    """Paragraphs inside paragraphs (notes, frames) are rendered with their outer paragraph."""
    return any(a.tag in _ODT_BLOCKS for a in el.iterancestors())


def _odt_text(el: etree._Element) -> str:
    """The text of one paragraph, with ODF's space, tab and line-break elements restored."""
    parts: list[str] = []
    for event, node in etree.iterwalk(el, events=("start", "end")):
        if event == "start":
            if node.tag in _ODT_SPACES:
                count = int(node.get(f"{{{_TEXT_NS}}}c", "1") or 1) if node.tag.endswith("}s") else 1
                parts.append(_ODT_SPACES[node.tag] * min(count, 100))
            elif isinstance(node.tag, str) and node.text:
                parts.append(node.text)
        elif node is not el and node.tail:
            parts.append(node.tail)
    return "".join(parts)


def _odt_title(meta_xml: bytes, parser: etree.XMLParser) -> str | None:
    """``dc:title`` from ``meta.xml``, if there is one."""
    if not meta_xml:
        return None
    try:
        found = etree.fromstring(meta_xml, parser=parser).find(f".//{_DC_TITLE}")
    except etree.LxmlError:
        return None
    title = (found.text or "").strip() if found is not None else ""
    return title or None
