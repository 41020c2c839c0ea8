"""The page in a real browser: Debian's headless Chromium driven by Selenium, against a real
daemon. It logs in through the link, searches, opens a document, answers three review items
with the keyboard, rolls a model back, and saves a screenshot of the dashboard in
``test-artifacts/`` (or ``$WORKFLOWD_TEST_ARTIFACTS``)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("WORKFLOWD_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER),
                       reason="needs Debian's chromium and chromium-driver (.ci/run installs them as root)"),
]

DOCS = {
    "plumber.txt": "Please call the plumber about the leaking tap in the kitchen. It is getting worse every day.",
    "match.txt": "A wonderful evening: the home team won the final and the crowd celebrated for hours.",
    "rent.txt": "The rent for December is due on the first. Transfer 950 EUR to the usual account.",
    "complaint.txt": "I am very disappointed with the late delivery and the broken parts in the package.",
}


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1100", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(check, timeout: float = 60.0, what: str = "") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_login_search_document_review_rollback_dashboard(wf_env: Env, browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    labels = tmp_path / "labels.jsonl"
    rows = [{"text": t, "label": lb} for t, lb in (
        ("the invoice and the bill are due", "bills"), ("pay the rent and the electricity", "bills"),
        ("the match and the team and the goal", "sport"), ("the players won the cup final", "sport"),
        ("repair the boiler and the tap", "home"), ("the plumber fixed the kitchen sink", "home"),
    )] * 3
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    wf_env.run("train", "--task", "classify", "--data", str(labels), "--method", "head")
    assert [v["status"] for v in wf_env.json("models", "list")] == ["promoted"]
    for name, text in DOCS.items():
        (wf_env.inbox / name).write_text(text, encoding="utf-8")
    wf_env.run("start")
    _wait(lambda: sum(d["status"] == "done" for d in wf_env.json("list")) == len(DOCS), what="the documents")
    login = wf_env.run("open", "--print").stdout.strip()

    # log in through the link: the documents page
    driver.get(login)
    assert "Documents" in driver.title and "plumber.txt" in driver.page_source

    # search with the form
    box = driver.find_element(By.NAME, "q")
    box.send_keys("leaking tap")
    box.submit()
    _wait(lambda: "found for" in driver.page_source, 30, "the search results")
    first = driver.find_elements(By.CSS_SELECTOR, "tbody tr td:nth-child(3) a")[0]
    assert first.text == "plumber.txt"

    # open it: its text, with the summary sentence marked
    first.click()
    _wait(lambda: driver.find_elements(By.ID, "text"), 30, "the document page")
    assert "leaking tap" in driver.find_element(By.ID, "text").text
    assert driver.find_elements(By.CSS_SELECTOR, "#text .summary")

    # three review items answered with the keyboard: "2" picks the second label, "a" accepts
    driver.get(login.split("/login")[0] + "/review?task=sentiment")
    before = len(wf_env.json("corrections", "list"))
    for key in ("2", "a", "2"):
        shown = driver.find_element(By.CSS_SELECTOR, 'input[name="document_id"]').get_attribute("value")
        driver.find_element(By.TAG_NAME, "body").send_keys(key)
        _wait(lambda shown=shown: driver.find_elements(By.ID, "done")
              and (not driver.find_elements(By.CSS_SELECTOR, 'input[name="document_id"]')
                   or driver.find_element(By.CSS_SELECTOR, 'input[name="document_id"]').get_attribute("value")
                   != shown), 30, f"the answer to key {key}")
    stored = wf_env.json("corrections", "list")
    assert len(stored) == before + 3
    assert {c["task"] for c in stored[-3:]} == {"sentiment"}
    assert [c["value"]["label"] for c in stored[-3:]].count("neutral") >= 2  # "2" is neutral

    # roll the classifier back from the models page
    driver.get(login.split("/login")[0] + "/models")
    driver.find_element(By.XPATH, "//button[normalize-space()='Roll back']").click()
    _wait(lambda: "no trained models yet" in driver.page_source
          or "Roll back" not in driver.page_source, 30, "the rollback")
    assert [v["status"] for v in wf_env.json("models", "list")] != ["promoted"]

    # the dashboard, kept as a test artifact
    driver.get(login.split("/login")[0] + "/dashboard")
    assert len(driver.find_elements(By.TAG_NAME, "svg")) == 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    wf_env.run("stop")
