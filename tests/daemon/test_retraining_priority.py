"""The training child runs at lower priority, set from the daemon after it starts: no
preexec_fn, which can deadlock a threaded process's child before exec."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from workflowd.config import load_config
from workflowd.daemon.retraining import Retraining


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_training_child_runs_at_lower_priority(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[[sources]]\npath = "{tmp_path}"\n'
                      '[training]\nschedule = ""\nnice = 7\n')
    done = threading.Event()
    retraining = Retraining(load_config(config), str(config), on_done=done.set)
    assert retraining.trigger("classify", "a test")
    pid = retraining.child.pid
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(fields[16]) == min(os.getpriority(os.PRIO_PROCESS, 0) + 7, 19)  # field 19: nice
    finally:
        assert done.wait(120)  # the child ends (there is nothing to train on) and is reaped
    assert retraining.child.returncode is not None
