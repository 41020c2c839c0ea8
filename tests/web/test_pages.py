"""The pages, rendered by the server: documents, search, one document, dashboard, models."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from workflowd.store import Store
from workflowd.web.marking import marked_text
from workflowd.web.server import WebServer


@pytest.fixture
def browser(served: tuple[WebServer, str]) -> Iterator[httpx.Client]:
    server, base = served
    store = Store(server.settings.db_path)
    store.results.save(1, "entities", data={"entities": [{"type": "PER", "start": 5, "end": 9, "text": "Anna",
                                                           "confidence": 0.97}]}, confidence=0.97)
    store.results.save(1, "summarize", data={"summary": "the invoice is attached.",
                                             "sentences": [{"start": 11, "end": 35, "index": 1}]})
    store.results.save(1, "sentiment", data={"label": "neutral", "score": 0.1, "confidence": 0.8})
    store.close()
    with httpx.Client(base_url=base) as client:
        client.get("/login", params={"token": server.context.token})
        yield client


def test_pages_need_the_login(served: tuple[WebServer, str]) -> None:
    _server, base = served
    for path in ("/", "/documents/1", "/dashboard", "/models"):
        assert httpx.get(base + path).status_code == 401


def test_documents_list_search_and_paging(browser: httpx.Client) -> None:
    page = browser.get("/")
    assert page.status_code == 200 and "letter.txt" in page.text and 'href="/documents/1"' in page.text
    found = browser.get("/", params={"q": "invoice", "mode": "text"})
    assert "1 found" in found.text and "[invoice]" in found.text
    assert "no documents" in browser.get("/", params={"q": "zebra", "mode": "text"}).text
    assert "no documents" in browser.get("/", params={"status": "failed"}).text


def test_one_document_marks_entities_and_summary_in_place(browser: httpx.Client) -> None:
    page = browser.get("/documents/1").text
    assert re.search(r'<mark class="ent ent-PER" title="PER 0.97">Anna</mark>', page)
    assert '<span class="summary">the invoice is attached.</span>' in page
    assert "neutral" in page and 'href="/api/documents/1/original"' in page
    assert browser.get("/documents/99").status_code == 404


def test_marking_escapes_and_survives_crossing_spans() -> None:
    html = marked_text("<b>Ann & Bo</b>", [{"type": "PER", "start": 3, "end": 10}], [{"start": 0, "end": 6}])
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert html.count("<mark") == 2 and html.count("<span") == 2  # each piece wrapped on its own


def test_dashboard_draws_svg_charts(browser: httpx.Client) -> None:
    page = browser.get("/dashboard").text
    assert page.count("<svg") == 2 and 'class="bar"' in page and "documents per day" in page
    assert "1 documents · 1 waiting in the queue · 0 failed" in page  # its job was never run


def test_models_page_and_rollback_needs_the_csrf_token(served: tuple[WebServer, str],
                                                       browser: httpx.Client) -> None:
    server, base = served
    assert "no trained models yet" in browser.get("/models").text
    url = "/models/classify/rollback"
    assert browser.post(url, headers={"Origin": base}).status_code == 403
    assert browser.post(url + "?csrf=" + "0" * 64, headers={"Origin": base}).status_code == 403
    nothing = browser.post(url + "?csrf=" + server.context.csrf, headers={"Origin": base})
    assert nothing.status_code == 400 and "nothing to roll back" in nothing.text

    from workflowd.models.provider import ModelProvider

    registry = ModelProvider(server.settings).registry()
    registry.register("classify", lambda folder: (folder / "weights").write_text("1"), base_model="bundled",
                      metrics={"macro_f1": 0.9}, meta={"method": "head"}, promote=True)
    listed = browser.get("/models").text
    assert "classify" in listed and "promoted" in listed and "val macro-F1 0.900" in listed and "Roll back" in listed
    done = browser.post(url + "?csrf=" + server.context.csrf, headers={"Origin": base})
    assert done.status_code == 303 and done.headers["location"] == "/models"
    assert registry.current("classify") is None  # back to the built-in model, as `models rollback` does


def test_review_page_answers_like_workflowd_review(served: tuple[WebServer, str], browser: httpx.Client) -> None:
    server, base = served
    store = Store(server.settings.db_path)
    store.results.save(1, "classify", data={"label": "bills", "scores": {"bills": 0.55, "letters": 0.45}},
                       confidence=0.55)
    store.close()
    page = browser.get("/review", params={"task": "classify"}).text
    assert 'id="prediction"' in page and "bills" in page and 'data-key="a"' in page
    assert 'data-key="1"' in page and 'data-key="2"' in page and "letters" in page
    form = {"document_id": "1", "task": "classify", "only": "classify", "skip": "0", "label": "letters"}
    assert browser.post("/review/answer", data=form, headers={"Origin": base}).status_code == 403  # no CSRF
    done = browser.post("/review/answer?csrf=" + server.context.csrf, data=form, headers={"Origin": base})
    assert done.status_code == 303 and "done=" in done.headers["location"]
    store = Store(server.settings.db_path)
    try:
        rows = store.corrections.list(task="classify")
    finally:
        store.close()
    assert [r["value"]["label"] for r in rows] == ["letters"] and rows[0]["origin"] == "review"
    assert 'id="empty"' in browser.get(done.headers["location"]).text  # nothing left for classify


def test_alerts_and_rules_page_retries_a_dead_delivery(served: tuple[WebServer, str], browser: httpx.Client) -> None:
    server, base = served
    store = Store(server.settings.db_path)
    alert = store.alerts.add(kind="rule", name="invoices", level="warning", message="an invoice arrived",
                             reason="label is bills", documents=[1], deliveries=[("hook", "msg-1")],
                             body=lambda i: "{}")
    store.conn.execute("UPDATE outbox SET status = 'dead', last_error = 'HTTP 410' WHERE alert_id = ?", (alert,))
    store.conn.commit()
    store.close()
    page = browser.get("/alerts").text
    assert "an invoice arrived" in page and "dead" in page and "HTTP 410" in page and 'href="/documents/1"' in page
    assert "no [[rules]] in the config" in page
    url = f"/alerts/{alert}/retry"
    assert browser.post(url, headers={"Origin": base}).status_code == 403
    done = browser.post(url + "?csrf=" + server.context.csrf, headers={"Origin": base})
    assert done.status_code == 303 and "retrying+hook" in done.headers["location"]
    assert "pending" in browser.get("/alerts").text
    missing = browser.post("/alerts/999/retry?csrf=" + server.context.csrf, headers={"Origin": base})
    assert missing.status_code == 404


def test_review_names_and_summary_sentences_like_workflowd_review(served: tuple[WebServer, str],
                                                                  browser: httpx.Client) -> None:
    server, base = served
    page = browser.get("/review", params={"task": "entities"}).text
    assert "PER:5-9" in page and 'name="entities"' in page
    post = "/review/answer?csrf=" + server.context.csrf
    form = {"document_id": "1", "task": "entities", "only": "entities", "skip": "0", "action": "entities",
            "entities": "PER=Anna\nMISC=invoice\n"}
    done = browser.post(post, data=form, headers={"Origin": base})
    assert done.status_code == 303 and "2+name" in done.headers["location"]
    bad = browser.post(post, data={**form, "entities": "PER=Zoe"}, headers={"Origin": base})
    assert bad.status_code == 400 and "is not in the document" in bad.text

    page = browser.get("/review", params={"task": "summarize"}).text
    assert 'name="sentence" value="0" >' in page  # one sentence; the stored summary's index 1 is not in it
    form = {"document_id": "1", "task": "summarize", "only": "summarize", "skip": "0", "action": "sentences",
            "sentence": ["0"]}
    assert browser.post(post, data=form, headers={"Origin": base}).status_code == 303
    store = Store(server.settings.db_path)
    try:
        values = {r["task"]: r["value"] for r in store.corrections.list()}
    finally:
        store.close()
    assert [e["text"] for e in values["entities"]["entities"]] == ["Anna", "invoice"]
    assert values["summarize"]["sentences"] == [0]


def test_api_alerts_models_status_answer_as_the_cli(served: tuple[WebServer, str]) -> None:
    server, base = served
    token = {"Authorization": f"Bearer {server.context.token}"}
    assert httpx.get(base + "/api/alerts", headers=token).json() == []
    assert httpx.get(base + "/api/models", headers=token).json() == []
    assert httpx.get(base + "/api/status", headers=token).status_code == 404  # no daemon behind this server
    assert httpx.get(base + "/api/alerts", params={"since": "soon"}, headers=token).status_code == 400
