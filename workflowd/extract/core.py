"""In-process extraction: size checks, type detection, the per-type extractor, the text limit.

Use :class:`~workflowd.extract.sandbox.SandboxedExtractor` for untrusted files; this module is
what runs inside its child process (and in tests).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import ExtractSettings, OcrSettings
from ..errors import ExtractionError
from . import sniff
from .html import extract_html
from .image import IMAGE_TYPES, extract_image
from .mail import extract_mail
from .ocr import OcrJob
from .office import extract_docx, extract_odt
from .pdf import extract_pdf
from .plain import extract_markdown, extract_plain
from .result import Extraction
from .textutil import clean_str, clean_value, short_reason

__all__ = ["EXTRACTORS", "Extractor", "check_size", "extract_bytes", "extract_file", "plugin_extractors"]

ExtractFunction = Callable[[bytes, ExtractSettings, Path], Extraction]


@dataclass(frozen=True)
class Extractor:
    """A text extractor a plugin adds through ``register_extractors``.

    ``extract(data, settings, blob_dir)`` returns an Extraction (raise ExtractionError for
    bad input). It reads files of ``media_types`` as workflowd detects them from their bytes
    (e.g. ``image/png``) and, when the bytes say no more than plain text or binary, files
    whose name ends with one of ``suffixes`` (e.g. ``.heic``, ``.note``). workflowd's own
    extractors of the types it knows come first: a plugin adds types, it does not replace how
    PDF or mail are read.
    """

    media_types: tuple[str, ...]
    extract: ExtractFunction
    suffixes: tuple[str, ...] = ()


EXTRACTORS: dict[str, ExtractFunction] = {
    sniff.PDF: extract_pdf,
    sniff.DOCX: extract_docx,
    sniff.ODT: extract_odt,
    sniff.HTML: extract_html,
    sniff.MAIL: extract_mail,
    sniff.MARKDOWN: extract_markdown,
    sniff.PLAIN: extract_plain,
    **{media_type: extract_image for media_type in IMAGE_TYPES},
}
# Extractors that may OCR: they take the file's OcrJob as ``ocr=``.
_OCR_READERS = (extract_pdf, extract_image)


def check_size(size: int, settings: ExtractSettings) -> None:
    """Refuse empty files and files over ``extract.max_file_mb`` before anything reads them."""
    if size == 0:
        raise ExtractionError("empty file (0 bytes)")
    limit = settings.max_file_mb * 1024 * 1024
    if size > limit:
        raise ExtractionError(
            f"file is {size / 1024 / 1024:.1f} MB, over the limit of {settings.max_file_mb:g} MB"
            " (extract.max_file_mb)"
        )


def plugin_extractors(plugins_dir: Path | None) -> list[Extractor]:
    """The extractors the installed plugins and those of ``plugins_dir`` register (workflowd's
    steps and tasks are not loaded: extraction needs no model)."""
    from ..errors import PluginError
    from ..plugins import plugin_manager

    out: list[Extractor] = []
    for impl in plugin_manager(plugins_dir, builtins=False).hook.register_extractors.get_hookimpls():
        for spec in impl.function() or []:
            if not isinstance(spec, Extractor) or not callable(spec.extract) or not spec.media_types:
                raise PluginError(f"plugin {impl.plugin_name} registered {spec!r}, which is not an Extractor "
                                  "with media_types and an extract function")
            out.append(spec)
    return out


GENERIC = (sniff.PLAIN, sniff.BINARY)  # what bytes alone say of a format they do not know


def _find(media_type: str, name: str, extra: Sequence[Extractor]) -> tuple[str, ExtractFunction] | None:
    """Which extractor reads a file: workflowd's own for the types it knows, a plugin's for its
    type, a plugin's for the name's ending when the bytes say no more than text or binary,
    and workflowd's plain text reader last."""
    if media_type in EXTRACTORS and media_type not in GENERIC:
        return media_type, EXTRACTORS[media_type]
    for spec in extra:
        if media_type in spec.media_types:
            return media_type, spec.extract
    lower = name.lower()
    for spec in extra:
        if any(lower.endswith(s.lower()) for s in spec.suffixes):
            return spec.media_types[0], spec.extract
    return (media_type, EXTRACTORS[media_type]) if media_type in EXTRACTORS else None


def extract_file(
    path: Path, settings: ExtractSettings, blob_dir: Path, extra: Sequence[Extractor] = (),
    ocr: OcrSettings | None = None, on_ocr: Callable[[], None] | None = None,
) -> Extraction:
    """Extract the text of one file; ExtractionError for bad content, OSError when unreadable.
    ``extra``: the plugins' extractors; ``ocr``: how images and scanned pages are read (default
    settings when None); ``on_ocr``: called once before the first page is OCRed."""
    path = Path(path)
    check_size(path.stat().st_size, settings)
    limit = int(settings.max_file_mb * 1024 * 1024)
    with path.open("rb") as fh:
        # read(n) allocates n bytes up front, so ask for what the file holds, not for the limit
        size = min(os.fstat(fh.fileno()).st_size, limit)
        data = fh.read(size + 1)
        if len(data) > size:  # the file grew since stat()
            data += fh.read(limit + 1 - len(data))
    check_size(len(data), settings)
    return extract_bytes(data, path.name, settings, blob_dir, extra, ocr, on_ocr)


def extract_bytes(
    data: bytes, name: str, settings: ExtractSettings, blob_dir: Path, extra: Sequence[Extractor] = (),
    ocr: OcrSettings | None = None, on_ocr: Callable[[], None] | None = None,
) -> Extraction:
    """Extract the text of ``data`` (a file called ``name``); see :func:`extract_file`."""
    media_type = sniff.detect_media_type(data, name)
    found = _find(media_type, name, extra)
    if found is None:
        raise ExtractionError(f"unsupported file type: {media_type} ({sniff.describe_type(media_type)})")
    media_type, extractor = found
    try:
        if extractor in _OCR_READERS:
            job = OcrJob(ocr or OcrSettings(), on_ocr or (lambda: None))
            result = extractor(data, settings, Path(blob_dir), ocr=job)
        else:
            result = extractor(data, settings, Path(blob_dir))
    except (ExtractionError, MemoryError, OSError):
        raise
    except RecursionError:
        raise ExtractionError(f"cannot read {media_type}: the document is nested too deeply") from None
    except Exception as exc:  # a parser bug or an input no one foresaw: still one file's failure
        reason = f"{type(exc).__name__}: {short_reason(exc)}"
        raise ExtractionError(f"cannot read {media_type}: {reason}") from None
    return _finish(result, media_type, hashlib.sha256(data).hexdigest(), settings)


def _finish(result: Extraction, media_type: str, sha: str, settings: ExtractSettings) -> Extraction:
    """Clean strings, apply the text limit and record the type and hash."""
    text = clean_str(result.text)
    meta = clean_value(result.meta)
    if len(text) > settings.max_text_chars:
        meta["truncated"] = True
        meta["original_chars"] = len(text)
        text = text[: settings.max_text_chars]
    title = clean_str(result.title).strip() if result.title else None
    return Extraction(
        media_type=media_type,
        text=text,
        title=title or None,
        meta=meta,
        attachments=result.attachments,
        sha256=sha,
    )
