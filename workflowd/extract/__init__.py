"""Text extraction from files: plain text, Markdown, HTML, e-mail, PDF, DOCX (and ODT).

:func:`extract_file` works in-process; :class:`SandboxedExtractor` runs the same code in a
child process under time and memory limits, which is what the daemon uses for untrusted files.
"""

from __future__ import annotations

from .core import Extractor, extract_file
from .result import Attachment, Extraction
from .sandbox import SandboxedExtractor
from .sniff import detect_media_type

__all__ = ["Attachment", "Extraction", "Extractor", "SandboxedExtractor", "detect_media_type", "extract_file"]
