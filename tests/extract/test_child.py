"""The child process speaks only protocol lines on stdout, whatever the libraries print."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workflowd.config import ExtractSettings

from .conftest import make_pdf


def test_stdout_holds_only_protocol_lines(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(make_pdf(["text"]).replace(b"xref\n0", b"xref\n9"))  # pypdf warns and repairs
    missing = tmp_path / "missing.txt"
    settings = ExtractSettings().model_dump(mode="json")
    requests = [{"path": str(p), "settings": settings, "blob_dir": str(tmp_path / "blobs")}
                for p in (damaged, missing)]
    stdin = "".join(json.dumps(r) + "\n" for r in requests) + "not json\n"
    code = "import sys, runpy; sys.argv[1:] = ['--max-memory-mb', '1024']; print('noise'); " \
           "runpy.run_module('workflowd.extract.child', run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", code], input=stdin.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "noise"  # printed before the child took over stdout (the parent skips it)
    messages = [json.loads(line) for line in lines[1:]]
    assert messages[0]["ready"] is True
    assert messages[1]["ok"] is True and "text" in messages[1]["extraction"]["text"]
    assert messages[2] == {"ok": False, "kind": "os", "errno": 2, "message": "No such file or directory",
                           "filename": str(missing)}
    assert messages[3]["kind"] == "protocol"
    assert len(messages) == 4
