"""HTML: visible text only, blocks as lines, title from <title>."""

from __future__ import annotations

from pathlib import Path

from workflowd.config import ExtractSettings
from workflowd.extract import extract_file
from workflowd.extract.html import html_to_text

PAGE = """<!DOCTYPE html>
<html><head><title>  Quarterly
  report </title>
<style>body { color: red }</style><script>var secret = "SCRIPT";</script>
<meta charset="utf-8"></head>
<body>
<!-- COMMENT -->
<h1>Results</h1>
<p>Revenue   grew
by&nbsp;10%.</p><p>Costs fell.</p>
<div hidden>HIDDEN-ATTR</div><div style="display: none">HIDDEN-STYLE</div>
<form><input type="hidden" name="csrf" value="TOKEN"><input type="text" value="typed"></form>
<noscript>NOSCRIPT</noscript><template><p>TEMPLATE</p></template>
<ul><li>first</li><li>second</li></ul>
<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
line one<br>line two
<pre>  indented
    code</pre>
<p>caf&eacute; <b>bold</b>text</p>
</body></html>"""


def test_visible_text_only() -> None:
    text, title = html_to_text(PAGE)
    assert title == "Quarterly report"
    for hidden in ("SCRIPT", "color: red", "COMMENT", "HIDDEN-ATTR", "HIDDEN-STYLE", "TOKEN", "NOSCRIPT",
                   "TEMPLATE", "typed", "Quarterly"):
        assert hidden not in text
    assert text.startswith("Results\n\nRevenue grew by 10%.\n\nCosts fell.")
    assert "first\nsecond" in text
    assert "a b\n1 2" in text
    assert "line one\nline two" in text
    assert "  indented\n    code" in text
    assert "café boldtext" in text
    assert "\n\n\n" not in text


def test_empty_and_odd_markup() -> None:
    assert html_to_text("") == ("", None)
    assert html_to_text("<!-- only a comment -->") == ("", None)
    assert html_to_text('<?xml version="1.0" encoding="utf-8"?><html><body>x</body></html>')[0] == "x"
    assert html_to_text("<p>a\x00b</p>")[0] == "ab"


def test_deep_nesting_does_not_recurse() -> None:
    # libxml2 stops at a depth of 2048 even with huge_tree; below that nothing may recurse.
    text, _ = html_to_text("<div><span>" * 900 + "deep" + "</span></div>" * 900 + "<p>after</p>")
    assert text == "deep\n\nafter"


def test_declared_charset_is_used(write, settings: ExtractSettings, blob_dir: Path) -> None:
    page = ('<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head>'
            "<body>na\xefve</body></html>")
    result = extract_file(write("page.html", page.encode("cp1252")), settings, blob_dir)
    assert result.media_type == "text/html"
    assert result.title == "Café"
    assert result.text == "naïve"
    assert result.meta["encoding"] == "cp1252"


def test_html_named_txt_is_html(write, settings: ExtractSettings, blob_dir: Path) -> None:
    result = extract_file(write("page.txt", PAGE), settings, blob_dir)
    assert result.media_type == "text/html"
    assert result.title == "Quarterly report"
