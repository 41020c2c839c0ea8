"""Templates in rules and alerts: Jinja2's sandbox, where a name that does not exist is an error.

Templates are checked when the config loads (syntax, and every name against ``VARIABLES``),
so a typo is a config error at start, not a failed action at three in the morning. In a
path, each ``{{ ... }}`` value is made one safe path component (workflowd/rules/paths.py):
a title of ``../../etc/passwd`` cannot leave the target folder.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# What a template can use, with what it is (the README's table is made from this).
VARIABLES: dict[str, str] = {
    "id": "the document's id",
    "name": "the file's name (of a mail: its subject, with .eml)",
    "stem": "the file's name without its extension",
    "ext": "the file's extension with its dot, e.g. .pdf ('' when it has none)",
    "title": "the document's title (a PDF's title, a mail's subject), else the file's stem",
    "path": "where the file is now",
    "source": "the source's name, e.g. folder:/home/me/inbox",
    "media_type": "e.g. application/pdf",
    "sha256": "the content's SHA-256",
    "size": "the size in bytes",
    "date": "when workflowd first saw the document, a datetime: date.year, date.strftime('%Y-%m')",
    "now": "the time the rule runs, a datetime",
    "label": "classify's label; None when it abstained (write {{ label or 'unsorted' }})",
    "best_guess": "classify's most likely label, even when it abstained",
    "confidence": "classify's confidence, 0..1",
    "tags": "the document's tags (a list)",
    "entities": "found entities by type, e.g. entities.ORG (a list of texts; [] when none)",
    "sentiment": "the sentiment step's label: negative, neutral or positive",
    "sentiment_score": "the sentiment score in [-1, 1] (positive minus negative)",
    "summary": "the summary's text",
    "text": "the document's text",
    "results": "every step's result, by step name",
    "rule": "the rule's name",
}


class TemplateProblem(ValueError):
    """A template that cannot be parsed or names something that does not exist."""


def _refuse_none(value: Any) -> Any:
    if value is None:
        raise TemplateError(
            "a value is None (e.g. label when classify abstained): give a fallback, "
            "e.g. {{ label or 'unsorted' }}"
        )
    return value


def environment(finalize: Callable[[Any], Any] | None = None) -> ImmutableSandboxedEnvironment:
    """The sandbox: no attribute of Python internals, no changes to the values, undefined is an error."""

    def final(value: Any) -> Any:
        value = _refuse_none(value)
        return finalize(value) if finalize else value

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, finalize=final
    )


_CHECK = environment()


def check(source: str, where: str = "template") -> str:
    """Raise TemplateProblem when ``source`` does not parse or uses a name no document has."""
    try:
        ast = _CHECK.parse(source)
    except TemplateError as exc:
        raise TemplateProblem(f"{where} {source!r} is not a valid template: {exc}") from None
    unknown = sorted(meta.find_undeclared_variables(ast) - set(VARIABLES))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(VARIABLES), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TemplateProblem(
            f"{where} {source!r} uses unknown name(s) {', '.join(hints)}; known: {', '.join(VARIABLES)}"
        )
    return source


def render(source: str, context: Mapping[str, Any], finalize: Callable[[Any], Any] | None = None) -> str:
    """Render ``source`` over ``context`` in the sandbox; raises TemplateProblem with the reason."""
    env = _CHECK if finalize is None else environment(finalize)
    try:
        return env.from_string(source).render(dict(context))
    except TemplateError as exc:
        raise TemplateProblem(f"template {source!r}: {exc}") from None
