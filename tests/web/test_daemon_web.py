"""The daemon serves the page: `open --print` logs a client in; the API answers as the CLI does."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import Env


@pytest.mark.slow
def test_open_print_logs_in_and_api_documents_is_list_json(wf_env: Env) -> None:
    (wf_env.inbox / "note.txt").write_text("Call the plumber about the leaking tap.", encoding="utf-8")
    assert wf_env.run("open", "--print", check=False).returncode == 1  # no daemon yet: a clear error
    wf_env.run("start")
    status = wf_env.json("status")
    assert status["web_url"].startswith("http://127.0.0.1:")
    url = wf_env.run("open", "--print").stdout.strip()
    assert url.startswith(status["web_url"] + "login?token=") and len(url.splitlines()) == 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(d["status"] == "done" for d in wf_env.json("list")):
        time.sleep(0.3)
    api = status["web_url"] + "api/documents"
    assert httpx.get(api).status_code == 401
    with httpx.Client(follow_redirects=False) as browser:
        assert browser.get(url).status_code == 303
        assert browser.get(api).json() == wf_env.json("list")
    token = (wf_env.data_dir / "web-token").read_text().strip()
    rows = httpx.get(status["web_url"] + "api/search", params={"q": "plumber"},
                     headers={"Authorization": f"Bearer {token}"}).json()
    assert rows and rows[0]["name"] == "note.txt"
    served_status = httpx.get(status["web_url"] + "api/status", headers={"Authorization": f"Bearer {token}"}).json()
    assert served_status.keys() == wf_env.json("status").keys() and served_status["running"] is True
    wf_env.run("stop")
    with pytest.raises(httpx.TransportError):
        httpx.get(api, timeout=2)
