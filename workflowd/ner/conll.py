"""CoNLL files: one token per line with its BIO tag in the last column, a blank line between
sentences, ``-DOCSTART-`` lines between documents.

A document becomes one text (tokens joined by spaces, sentences by newlines) so that the
tagger sees it as it sees any document: in windows, with the neighbouring sentences as
context. Each token keeps its character span in that text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError

TYPES = ("PER", "ORG", "LOC", "MISC")


@dataclass
class ConllDoc:
    sentences: list[list[tuple[str, str]]] = field(default_factory=list)  # (token, tag)

    def text_and_spans(self) -> tuple[str, list[list[tuple[int, int]]]]:
        """The document text and, per sentence, each token's (start, end) in it."""
        parts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        at = 0
        for s, sentence in enumerate(self.sentences):
            if s:
                parts.append("\n")
                at += 1
            row = []
            for t, (token, _tag) in enumerate(sentence):
                if t:
                    parts.append(" ")
                    at += 1
                row.append((at, at + len(token)))
                parts.append(token)
                at += len(token)
            spans.append(row)
        return "".join(parts), spans

    @property
    def tags(self) -> list[list[str]]:
        return [[tag for _t, tag in sentence] for sentence in self.sentences]


def _normalise_tag(tag: str, previous: str) -> str:
    """IOB1 (I- that starts an entity) to BIO, so both versions of CoNLL-2003 read the same."""
    if tag.startswith("I-") and previous[2:] != tag[2:]:
        return "B-" + tag[2:]
    return tag


def read_conll(path: Path, *, max_sentences_per_doc: int = 0) -> list[ConllDoc]:
    """Documents of a CoNLL file. Without ``-DOCSTART-`` lines, every ``max_sentences_per_doc``
    sentences (0: all of them) make one document."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    docs: list[ConllDoc] = [ConllDoc()]
    sentence: list[tuple[str, str]] = []

    def close_sentence() -> None:
        nonlocal sentence
        if sentence:
            docs[-1].sentences.append(sentence)
            if max_sentences_per_doc and len(docs[-1].sentences) >= max_sentences_per_doc:
                docs.append(ConllDoc())
            sentence = []

    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            close_sentence()
            continue
        if fields[0] == "-DOCSTART-":
            close_sentence()
            if docs[-1].sentences:
                docs.append(ConllDoc())
            continue
        if len(fields) < 2:
            raise ModelError(f"{path}:{number}: expected a token and its tag, got {line.strip()!r}")
        tag = fields[-1]
        if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
            raise ModelError(f"{path}:{number}: {tag!r} is not a BIO tag (O, B-TYPE or I-TYPE)")
        previous = sentence[-1][1] if sentence else "O"
        sentence.append((fields[0], _normalise_tag(tag, previous)))
    close_sentence()
    docs = [d for d in docs if d.sentences]
    if not docs:
        raise ModelError(f"{path} holds no tagged tokens")
    return docs
