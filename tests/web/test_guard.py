"""The web guard, over real HTTP: token, session cookie, CSRF and Origin, Host, paths."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest

from workflowd.store import Store
from workflowd.web.auth import SESSION_COOKIE, ensure_token
from workflowd.web.server import WebServer


def _list_json(server: WebServer) -> list[dict]:
    store = Store(server.settings.db_path)
    try:
        return json.loads(json.dumps(store.documents.list()))
    finally:
        store.close()


def test_token_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "d" / "web-token"
    token = ensure_token(path)
    assert len(token) >= 40 and ensure_token(path) == token
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_401_without_the_token_and_list_json_with_it(served: tuple[WebServer, str]) -> None:
    server, base = served
    r = httpx.get(base + "/api/documents")
    assert r.status_code == 401 and "workflowd open" in r.json()["error"]
    assert httpx.get(base + "/api/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(base + "/api/documents/1").status_code == 401
    ok = httpx.get(base + "/api/documents", headers={"Authorization": f"Bearer {server.context.token}"})
    assert ok.status_code == 200 and ok.json() == _list_json(server)


def test_login_link_sets_a_cookie_that_opens_the_api(served: tuple[WebServer, str]) -> None:
    server, base = served
    assert httpx.get(base + "/login", params={"token": "nope"}).status_code == 401
    with httpx.Client(base_url=base) as browser:
        r = browser.get("/login", params={"token": server.context.token})
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        assert SESSION_COOKIE in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert server.context.token not in r.headers["set-cookie"]  # the cookie is not the token
        assert browser.get("/api/documents/1").json()["text"] == "Dear Anna, the invoice is attached."


def test_changes_with_the_cookie_need_csrf_and_the_page_origin(served: tuple[WebServer, str]) -> None:
    server, base = served
    body = {"task": "nope"}
    with httpx.Client(base_url=base) as browser:
        browser.get("/login", params={"token": server.context.token})
        csrf = browser.get("/api/session").json()["csrf_token"]
        url = "/api/documents/1/corrections"
        assert browser.post(url, json=body).status_code == 403  # no Origin, no Referer
        assert browser.post(url, json=body, headers={"Origin": base}).status_code == 403  # no CSRF token
        evil = {"Origin": "http://evil.example", "X-CSRF-Token": csrf}
        assert browser.post(url, json=body, headers=evil).status_code == 403
        assert browser.post(url, json=body, headers={"Origin": base, "X-CSRF-Token": "0" * 64}).status_code == 403
        passed = browser.post(url, json=body, headers={"Origin": base, "X-CSRF-Token": csrf})
        assert passed.status_code == 400 and "nope" in passed.json()["error"]  # past the guard: an unknown task
    # a script with the token sends no cookie: no CSRF needed, a foreign Origin still refused
    token = {"Authorization": f"Bearer {server.context.token}"}
    assert httpx.post(base + url, json=body, headers=token).status_code == 400
    assert httpx.post(base + url, json=body, headers={**token, "Origin": "http://evil.example"}).status_code == 403


def test_a_forged_host_is_refused(served: tuple[WebServer, str]) -> None:
    server, base = served
    token = {"Authorization": f"Bearer {server.context.token}"}
    for host in ("evil.example", f"evil.example:{server.context.port}", "127.0.0.1:1", ""):
        r = httpx.get(base + "/api/documents", headers={**token, "Host": host})
        assert r.status_code == 400, host
    assert httpx.get(base + "/api/documents", headers={**token, "Host": f"localhost:{server.context.port}"}).is_success


@pytest.mark.parametrize("path", [
    "/api/documents/../../etc/passwd", "/api/documents/..%2F..%2Fetc%2Fpasswd", "/api/documents/%2e%2e/%2e%2e/etc/passwd",
    "/api/documents/1/original/../../../../etc/passwd", "/api/documents/-1", "/api/documents/1e3", "/etc/passwd",
    "/api/documents/1/original?path=/etc/passwd",
])
def test_paths_never_reach_the_file_system(served: tuple[WebServer, str], path: str) -> None:
    server, base = served
    token = {"Authorization": f"Bearer {server.context.token}"}
    with httpx.Client() as client:
        r = client.send(client.build_request("GET", base + path, headers=token))
    assert "root:" not in r.text
    if "original?path" in path:
        assert r.status_code == 200 and r.text == "Dear Anna, the invoice is attached."  # its own file only
    else:
        assert r.status_code in (400, 404)


def test_the_original_file_by_id(served: tuple[WebServer, str]) -> None:
    server, base = served
    token = {"Authorization": f"Bearer {server.context.token}"}
    r = httpx.get(base + "/api/documents/1/original", headers=token)
    assert r.status_code == 200 and r.content == b"Dear Anna, the invoice is attached."
    assert "letter.txt" in r.headers["content-disposition"]
    assert httpx.get(base + "/api/documents/2/original", headers=token).status_code == 404


def test_search_over_the_api_is_search_json(served: tuple[WebServer, str]) -> None:
    server, base = served
    token = {"Authorization": f"Bearer {server.context.token}"}
    rows = httpx.get(base + "/api/search", params={"q": "invoice", "mode": "text"}, headers=token).json()
    assert [r["id"] for r in rows] == [1] and "[invoice]" in rows[0]["snippet"] and rows[0]["score"] > 0
    assert httpx.get(base + "/api/search", params={"q": "x", "mode": "bad"}, headers=token).status_code == 400
    assert httpx.get(base + "/api/search", params={"q": "x", "limit": "0"}, headers=token).status_code == 400


def test_a_non_loopback_host_needs_allow_remote(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from workflowd.config import Settings

    with pytest.raises(ValidationError, match="allow_remote"):
        Settings(data_dir=tmp_path, sources=[], web={"host": "0.0.0.0"})
    assert Settings(data_dir=tmp_path, sources=[], web={"host": "0.0.0.0", "allow_remote": True}).web.allow_remote


def test_a_stop_before_the_server_is_made_ends_it_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`workflowd stop` right after start, while the page's thread still builds its app (slow
    on a busy machine): the thread ends without serving, and the stop does not wait for it."""
    import workflowd.web.server as web_server
    from workflowd.config import Settings

    made = web_server.create_app

    def slow_app(context):  # noqa: ANN001, ANN202
        time.sleep(0.5)
        return made(context)

    monkeypatch.setattr(web_server, "create_app", slow_app)
    settings = Settings(data_dir=tmp_path / "data", sources=[], web={"port": 0})
    settings.data_dir.mkdir()
    server = WebServer(settings)
    server.bind()
    server.start()
    started = time.monotonic()
    server.stop(timeout=5)
    server.join(timeout=2)
    assert not server.is_alive()
    assert time.monotonic() - started < 2.5
