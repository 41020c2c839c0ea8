"""Surges on a real SQLite store with injected time: the alerts a known sequence must give, and
only those (none during the baseline, the cooldown, a new model's baseline, copies, scopes)."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from workflowd.alerts.settings import SurgeSettings
from workflowd.alerts.surges import (
    SurgeTest,
    baseline_share,
    binomial_tail,
    collapse,
    evaluate,
    format_p,
    reason,
    surge_test,
    watch,
)
from workflowd.config import Settings
from workflowd.plugins import DEFAULT_PLUGINS, plugin_manager
from workflowd.store import FoundFile, Store
from workflowd.store.surges import Scored

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
DIM = 32
NEG, NEU = "negative", "neutral"


class Feed:
    """Writes processed documents (text, sentiment, classify, tags, embedding) through the store and
    runs the surges on each, as the hook does, one minute apart unless told otherwise."""

    def __init__(self, store: Store, settings: Settings):
        self.store, self.settings = store, settings
        self.now = START
        self.n = 0
        self.rng = np.random.default_rng(7)
        self.alerts: list[tuple[int, int]] = []  # (alert id, the document that raised it)

    def add(self, label: str, *, source: str = "inbox", version: str = "s1", classify: str | None = None,
            tags: Sequence[str] = (), vector: np.ndarray | None = None, embed: bool = True,
            text: str | None = None, gap: timedelta = timedelta(minutes=1)) -> int:
        self.n += 1
        self.now += gap
        sha = hashlib.sha256(f"doc {self.n}".encode()).hexdigest()
        found = FoundFile(source=source, path=f"/in/{self.n}.txt", name=f"{self.n}.txt", sha256=sha, size=1)
        doc_id, _ = self.store.documents.add(found, pipeline="default", max_attempts=1)
        with self.store.transaction():
            self.store.documents.set_extracted(doc_id, media_type="text/plain", title=None,
                                               text=text or f"story number {self.n}", meta={})
            self.store.results.save(doc_id, "sentiment", data={"label": label, "score": 0.0}, confidence=0.9,
                                    model_version=version)
            self.store.results.save(doc_id, "classify", data={"label": classify}, confidence=0.9, model_version="c1")
            if embed:
                v = self.rng.standard_normal(DIM) if vector is None else vector
                self.store.embeddings.save(doc_id, "bundled", v)
            if tags:
                self.store.tags.add(doc_id, list(tags), origin="test")
        results = self.store.results.for_document(doc_id)
        for surge in self.settings.surges:
            made = watch(self.store, self.settings, surge, doc_id=doc_id, source=source, results=results, now=self.now)
            self.alerts += [(a, doc_id) for a in made]
        return doc_id

    def many(self, labels: Sequence[str], **kw: object) -> list[int]:
        return [self.add(label, **kw) for label in labels]  # type: ignore[arg-type]


def every_tenth(count: int, offset: int = 0) -> list[str]:
    """Negative at every tenth document (counting from ``offset``), neutral otherwise: a 10% stream."""
    return [NEG if (offset + i + 1) % 10 == 0 else NEU for i in range(count)]


def settings_for(tmp_path: Path, **surge: object) -> Settings:
    conf = {"name": "negative-surge", "cooldown": "6h", "notify": ["hook"], **surge}
    return Settings(
        data_dir=tmp_path / "data",
        surges=[conf],
        notifiers={"hook": {"type": "webhook", "url": "http://127.0.0.1:18931/hook"}},
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "wf.db")
    yield s
    s.close()


def exact_tail(k: int, n: int, p: Fraction) -> Fraction:
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)), Fraction(0))


def oracle(labels: Sequence[str], times: Sequence[datetime], surge: SurgeSettings) -> list[int]:
    """The 1-based positions that must alert, found by slicing and exact fractions (no shared code)."""
    out: list[int] = []
    last: datetime | None = None
    w, m = surge.window, surge.baseline
    for end in range(w + m, len(labels) + 1):
        k = labels[end - w:end].count(surge.sentiment)
        b = labels[end - w - m:end - w].count(surge.sentiment)
        p0 = Fraction(2 * b + 1, 2 * (m + 1))
        found = k >= surge.min_count and Fraction(k, w) >= Fraction(surge.factor) * p0 and \
            exact_tail(k, w, p0) < Fraction(surge.alpha)
        if found and (last is None or (times[end - 1] - last).total_seconds() >= surge.cooldown):
            out.append(end)
            last = times[end - 1]
    return out


# The exact binomial tail

@pytest.mark.parametrize(("k", "n", "p", "expected"), [
    (8, 10, 0.5, 56 / 1024),  # (45 + 10 + 1) / 2^10
    (20, 20, 0.5, 2.0**-20),
    (1, 30, 0.2, 1 - 0.8**30),
    (5, 20, 0.1, 0.04317449528446339),  # scipy.stats.binom.sf(4, 20, 0.1)
    (0, 20, 0.3, 1.0),
    (21, 20, 0.3, 0.0),
])
def test_binomial_tail_known_values(k: int, n: int, p: float, expected: float) -> None:
    assert binomial_tail(k, n, p) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_binomial_tail_matches_exact_fractions_and_does_not_overflow() -> None:
    for k, n, p in [(3, 20, Fraction(1, 40)), (11, 16, Fraction(97, 402)), (40, 200, Fraction(1, 10)),
                    (130, 1000, Fraction(1, 10))]:
        assert binomial_tail(k, n, float(p)) == pytest.approx(float(exact_tail(k, n, p)), rel=1e-9)
    assert 0.0 < binomial_tail(1500, 2000, 0.5) < 1e-100  # math.comb(2000, 1000) is far beyond a float


def test_a_baseline_with_none_still_gives_a_share_above_zero() -> None:
    assert baseline_share(0, 200) == 0.5 / 201
    assert binomial_tail(1, 20, baseline_share(0, 200)) > 0.0
    assert baseline_share(200, 200) < 1.0


# The reason text

def test_reason_text_in_the_issue_shape() -> None:
    p0 = baseline_share(48, 200)
    test = SurgeTest(11, 16, 48, 200, p0, binomial_tail(11, 16, p0), True)
    assert reason(test, "negative") == "11 of 16 negative against 24% before, p = 0.0002"
    assert format_p(0.0123456) == "0.0123" and format_p(0.00004) == "4.0e-05" and format_p(0.0001) == "0.0001"
    small = SurgeTest(6, 20, 1, 200, baseline_share(1, 200), 1e-7, True)
    assert reason(small, "negative") == "6 of 20 negative against 0.5% before, p = 1.0e-07"


def test_evaluate_waits_for_a_full_baseline() -> None:
    surge = SurgeSettings(name="s")
    assert evaluate([True] * 219, surge) is None
    test = evaluate([False] * 200 + [True] * 20, surge)
    assert test is not None and (test.k, test.b, test.surge) == (20, 0, True)


@pytest.mark.parametrize(("k", "b", "window", "baseline", "surge"), [
    (8, 20, 20, 200, True),  # p = 0.0005
    (7, 20, 20, 200, False),  # p = 0.0027: not below alpha
    (4, 0, 20, 1000, False),  # p below alpha, but fewer than min_count
    (5, 0, 20, 1000, True),
    (85, 300, 200, 1000, False),  # 42% against 30%: p below alpha, but not 1.5 times the baseline share
    (91, 300, 200, 1000, True),
])
def test_each_condition_of_a_surge(k: int, b: int, window: int, baseline: int, surge: bool) -> None:
    test = surge_test(k, b, SurgeSettings(name="s", window=window, baseline=baseline))
    assert test.surge is surge
    if k in (4, 85):
        assert test.p < 0.001


# Alerts on a real store

def test_exactly_the_expected_alerts_none_in_the_baseline_and_the_cooldown(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    surge = settings.surges[0]
    feed = Feed(store, settings)
    labels = every_tenth(100) + [NEG] * 20 + every_tenth(99)  # a burst, but the baseline is not full yet
    feed.many(labels)
    assert feed.alerts == []
    labels += every_tenth(1, 219)
    feed.add(labels[-1])  # document 220: the baseline is full, nothing unusual in the window
    assert feed.alerts == []

    burst = feed.many([NEG] * 20)  # the first surge
    labels += [NEG] * 20
    # with j burst documents the window also holds 210 and 220 (negative): k = j + 2 of 20 while j < 10;
    # the baseline holds 38 negatives (10 + the early burst's 20 + 8): a share of (38 + 0.5) / 201
    p0 = Fraction(77, 402)
    first = next(j for j in range(1, 10) if exact_tail(j + 2, 20, p0) < Fraction(1, 1000))
    assert [doc for _, doc in feed.alerts] == [burst[first - 1]]
    alert = store.alerts.get(feed.alerts[0][0])
    k = first + 2
    assert alert["kind"] == "surge" and alert["name"] == "negative-surge" and alert["scope"] == "all"
    assert alert["message"] == "surge of negative documents" and alert["level"] == "warning"
    assert alert["reason"].startswith(f"{k} of 20 negative against 19% before, p = ")
    window_docs = list(range(burst[first - 1] - 19, burst[first - 1] + 1))
    assert alert["documents"] == [d for d in window_docs if labels[d - 1] == NEG]
    assert alert["payload"]["reason"] == alert["reason"]
    assert store.scalar("SELECT COUNT(*) FROM outbox WHERE alert_id = ?", (alert["id"],)) == 1

    feed.many(every_tenth(200))  # 200 minutes later: still inside the 6 h cooldown
    feed.many([NEG] * 20)
    assert len(feed.alerts) == 1, "a second surge inside the cooldown"
    feed.now += timedelta(hours=6)
    feed.many(every_tenth(200))
    feed.many([NEG] * 20)
    labels += every_tenth(200) + [NEG] * 20 + every_tenth(200) + [NEG] * 20
    times = [START + timedelta(minutes=i + 1) for i in range(len(labels))]
    times[len(labels) - 220:] = [t + timedelta(hours=6) for t in times[len(labels) - 220:]]
    expected = oracle(labels, times, surge)
    assert [doc for _, doc in feed.alerts] == expected and len(expected) == 2
    assert [e for e in oracle(labels, times, surge.model_copy(update={"cooldown": 0})) if 441 <= e <= 460], \
        "the second burst is a surge: only the cooldown held it back"
    assert store.alerts.get(feed.alerts[1][0])["created_at"] > alert["created_at"]


def test_a_new_sentiment_model_starts_a_new_baseline(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    gloomy = [NEG, NEU, NEG, NEU, NEU] * 50  # the new model calls 40% negative
    feed = Feed(store, settings)
    feed.many(every_tenth(220), version="s1")
    feed.many(gloomy, version="s2")
    assert feed.alerts == [], "a new model's view compared with the old one's"
    feed.many([NEG] * 20, version="s2")
    assert len(feed.alerts) == 1  # its own baseline full, a real surge still shows

    same = Feed(Store(tmp_path / "one-model.db"), settings_for(tmp_path))
    same.many(every_tenth(220), version="s1")
    same.many(gloomy[:40], version="s1")
    assert same.alerts, "the same labels from one model are a surge: the new baseline is what stopped it"
    same.store.close()


def test_a_new_model_alerts_only_when_its_own_baseline_is_full(store: Store, tmp_path: Path) -> None:
    feed = Feed(store, settings_for(tmp_path))
    feed.many(every_tenth(220), version="s1")
    feed.many(every_tenth(200), version="s2")
    feed.many([NEG] * 19, version="s2")  # 219 documents of s2: not yet
    assert feed.alerts == []
    feed.many(every_tenth(300), version="s1")  # late results of the old model do not count for s2
    assert feed.alerts == []
    feed.add(NEG, version="s2")
    assert len(feed.alerts) == 1


def test_fifteen_copies_of_one_story_count_once(store: Store, tmp_path: Path) -> None:
    feed = Feed(store, settings_for(tmp_path))
    feed.many(every_tenth(220))
    story = feed.rng.standard_normal(DIM)
    for _ in range(15):  # the same story, reworded a little: nearly the same embedding
        feed.add(NEG, vector=story + 0.01 * feed.rng.standard_normal(DIM))
    feed.many(every_tenth(10))
    for i in range(15):  # and with no embedding, the same text but for case and spacing
        feed.add(NEG, embed=False, text=["Markets CRASH  today!", "markets crash today"][i % 2])
    assert feed.alerts == []
    feed.many([NEG] * 15)  # fifteen different negative stories
    assert len(feed.alerts) == 1
    alert = store.alerts.get(feed.alerts[0][0])
    copies = set(range(222, 236)) | set(range(247, 261))  # 221 and 246 are the first of each
    assert not copies & set(alert["documents"]) and set(alert["documents"]) & set(range(261, 276))


def test_a_copy_does_not_test_again(store: Store, tmp_path: Path) -> None:
    feed = Feed(store, settings_for(tmp_path, cooldown=0))
    feed.many(every_tenth(220))
    stories = [feed.rng.standard_normal(DIM) for _ in range(6)]
    for v in stories:
        feed.add(NEG, vector=v)
    assert len(feed.alerts) == 1  # the sixth: 8 of 20 (with 210 and 220)
    for _ in range(5):
        feed.add(NEG, vector=stories[-1] * 1.01)  # the same window: no new test, no new alert
    assert len(feed.alerts) == 1
    feed.add(NEG)
    assert len(feed.alerts) == 2  # a new story, and no cooldown


def test_collapse_keeps_the_first_of_each_story() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(DIM), rng.standard_normal(DIM)

    def item(i: int, v: np.ndarray | None, text: str | None = None, encoder: str = "bundled") -> Scored:
        return Scored(i, NEG, encoder if v is not None else None,
                      None if v is None else v.astype(np.float32), text if text is not None else f"text {i}")

    near = a + 0.5 * rng.standard_normal(DIM)
    cos = float(a @ near / np.linalg.norm(a) / np.linalg.norm(near))
    assert 0.85 < cos < 0.95
    items = [item(1, a), item(2, b), item(3, a * 2.0), item(4, None, "Hello, World"), item(5, None, "hello world"),
             item(6, near), item(7, a, encoder="old encoder"), item(8, None, ""), item(9, None, " "), item(10, b)]
    # 3 is 1 scaled; 5 is 4's text; 7 has another encoder's embedding (its own text counts); 8 and 9 have
    # no text to compare and count each; 10 is 2 again
    assert [i.document_id for i in collapse(items, 0.95)] == [1, 2, 4, 6, 7, 8, 9]
    assert [i.document_id for i in collapse(items, 1.0)] == [1, 2, 4, 6, 7, 8, 9]
    assert [i.document_id for i in collapse(items, 0.85)] == [1, 2, 4, 7, 8, 9]


def test_a_surge_in_one_source_alerts_for_that_source_only(store: Store, tmp_path: Path) -> None:
    feed = Feed(store, settings_for(tmp_path, scope="source"))
    for i, label in enumerate(every_tenth(230)):
        feed.add(label, source="news")
        feed.add(every_tenth(1, i)[0], source="mail")
    news = [feed.add(NEG, source="news") for _ in range(10)]
    feed.many(every_tenth(20), source="mail")
    assert [(store.alerts.get(a)["scope"], doc) for a, doc in feed.alerts] == [("source:news", news[5])]
    assert store.alerts.get(feed.alerts[0][0])["message"] == "surge of negative documents in source news"
    # the window of 20 news documents holds the 10 new ones and 2 of the usual; all of "all" is not watched
    assert store.alerts.get(feed.alerts[0][0])["reason"].startswith("8 of 20 negative against 10% before")


def test_label_and_tag_scopes_with_only(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", surges=[
        {"name": "by-label", "scope": "label", "only": ["finance"]},
        {"name": "by-tag", "scope": "tag"},
    ])
    feed = Feed(store, settings)
    for label in every_tenth(220):
        feed.add(label, classify="finance", tags=["watch"])
        feed.add(label, classify="sport", tags=["other"])
    for _ in range(8):
        feed.add(NEG, classify="sport", tags=["other"])  # a surge in sport (not watched) and in tag "other"
    got = sorted((store.alerts.get(a)["name"], store.alerts.get(a)["scope"]) for a, _ in feed.alerts)
    assert got == [("by-tag", "tag:other")]
    for _ in range(8):
        feed.add(NEG, classify="finance", tags=["watch"])
    got = sorted((store.alerts.get(a)["name"], store.alerts.get(a)["scope"]) for a, _ in feed.alerts)
    assert got == [("by-label", "label:finance"), ("by-tag", "tag:other"), ("by-tag", "tag:watch")]


def test_attachments_are_left_out_unless_asked(store: Store, tmp_path: Path) -> None:
    feed = Feed(store, settings_for(tmp_path))
    feed.many(every_tenth(220))
    parent = feed.add(NEU)
    for i in range(10):
        found = FoundFile(source="inbox", path=f"/in/att{i}", name=f"att{i}",
                          sha256=hashlib.sha256(f"att {i}".encode()).hexdigest(), size=1)
        child, _ = store.documents.add(found, pipeline="default", max_attempts=1, parent_id=parent)
        store.documents.set_extracted(child, media_type="text/plain", title=None, text=f"attachment {i}", meta={})
        store.results.save(child, "sentiment", data={"label": NEG}, model_version="s1")
        results = store.results.for_document(child)
        assert watch(store, feed.settings, feed.settings.surges[0], doc_id=child, source="inbox",
                     results=results, now=feed.now) == []
    counted = SurgeSettings(name="with-attachments", attachments=True)
    assert watch(store, feed.settings, counted, doc_id=child, source="inbox", results=results, now=feed.now)


# The hook

def test_the_hook_is_built_in_runs_the_surges_and_never_raises(store: Store, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    tasks = [i for i, name in enumerate(DEFAULT_PLUGINS) if name.startswith("workflowd.tasks.")]
    assert DEFAULT_PLUGINS.index("workflowd.alerts.plugin") > max(tasks)
    settings = settings_for(tmp_path)
    pm = plugin_manager()
    feed = Feed(store, Settings(data_dir=tmp_path / "data"))  # no surges: the hook makes the alerts
    for label in every_tenth(220) + [NEG] * 8:
        doc_id = feed.add(label)
        document = SimpleNamespace(id=doc_id, source="inbox")
        pm.hook.document_processed(document=document, results=store.results.for_document(doc_id), store=store,
                                   settings=settings)
    assert [a["scope"] for a in store.alerts.list()] == ["all"]  # then the cooldown
    settings.surges[0].cooldown = 0
    pm.hook.document_processed(document=document, results={}, store=store, settings=settings)  # no sentiment
    assert len(store.alerts.list()) == 1
    pm.hook.document_processed(document=document, results=store.results.for_document(doc_id), store=store,
                               settings=settings)
    assert len(store.alerts.list()) == 2

    broken = Store(tmp_path / "closed.db")
    broken.close()
    with caplog.at_level(logging.ERROR, logger="workflowd.alerts"):
        pm.hook.document_processed(document=document, results=store.results.for_document(doc_id), store=broken,
                                   settings=settings)
    assert "surge negative-surge failed on document" in caplog.text


def test_the_store_gives_what_the_statistics_give(store: Store, tmp_path: Path) -> None:
    """A random stream with a jump in it, through the store and through ``evaluate`` on the bare labels."""
    settings = settings_for(tmp_path, cooldown=0)
    rng = np.random.default_rng(3)
    labels = [NEG if x else NEU for x in np.concatenate([rng.random(400) < 0.15, rng.random(100) < 0.45])]
    feed = Feed(store, settings)
    docs = feed.many(labels)
    hits = [label == NEG for label in labels]
    expected = [docs[i] for i in range(len(hits)) if (t := evaluate(hits[:i + 1], settings.surges[0])) and t.surge]
    assert expected and [doc for _, doc in feed.alerts] == expected
