"""Plugin files are trusted code: a folder or file others could change is refused; a plugin
that calls sys.exit() is an error of that plugin, not the end of workflowd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Env, write_steps_plugin
from workflowd.config import load_config
from workflowd.errors import PluginError
from workflowd.plugins import plugin_manager
from workflowd.runtime import build_pipelines


@pytest.mark.parametrize(("target", "mode", "who"), [
    ("folder", 0o775, "its group"),
    ("folder", 0o757, "every user"),
    ("folder", 0o1777, "its group and every user"),
    ("file", 0o664, "its group"),
    ("file", 0o646, "every user"),
])
def test_plugins_writable_by_others_are_refused(tmp_path: Path, target: str, mode: int, who: str) -> None:
    folder = write_steps_plugin(tmp_path / "plugins")
    path = folder if target == "folder" else folder / "test_steps.py"
    path.chmod(mode)
    with pytest.raises(PluginError) as info:
        plugin_manager(folder)
    text = str(info.value)
    assert f"plugin{'s folder' if target == 'folder' else ' file'} {path} is writable by {who}" in text
    assert f"(mode {mode:04o})" in text and f"`chmod go-w {path}`" in text
    path.chmod(mode & ~0o022)
    assert plugin_manager(folder).get_plugin(f"file:{folder / 'test_steps.py'}") is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
@pytest.mark.parametrize("target", ["folder", "file"])
def test_plugins_owned_by_another_user_are_refused(tmp_path: Path, target: str) -> None:
    folder = write_steps_plugin(tmp_path / "plugins")
    path = folder if target == "folder" else folder / "test_steps.py"
    os.chown(path, 4242, 4242)
    with pytest.raises(PluginError, match=rf"{path} belongs to another user \(uid 4242\)"):
        plugin_manager(folder)


def test_a_link_to_a_plugin_file_is_judged_by_what_it_leads_to(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "evil.py").write_text("raise RuntimeError('should not run')\n")
    (shared / "evil.py").chmod(0o666)
    folder = write_steps_plugin(tmp_path / "plugins")
    (folder / "evil.py").symlink_to(shared / "evil.py")
    with pytest.raises(PluginError, match="evil.py is writable by its group and every user"):
        plugin_manager(folder)


def test_sys_exit_at_import_or_at_start_is_a_plugin_error(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir(mode=0o700)
    (folder / "quits.py").write_text("import sys\nsys.exit('bye')\n")
    with pytest.raises(PluginError, match=r"plugin file .*quits.py failed to load: SystemExit: bye"):
        plugin_manager(folder)
    (folder / "quits.py").write_text(
        "import sys\nfrom workflowd import Step, hookimpl\n"
        "class Quits(Step):\n    name = 'quits'\n    def __init__(self, settings, context):\n        sys.exit(3)\n"
        "@hookimpl\ndef register_steps():\n    return [Quits]\n"
    )
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\nplugins_dir = "{folder}"\n'
                      '[pipelines.default]\nsteps = ["quits"]\n')
    with pytest.raises(PluginError, match=r"step 'quits' failed to start: SystemExit: .*sys.exit\(3\)"):
        build_pipelines(load_config(config))


def test_start_refuses_a_plugins_folder_others_may_write(wf_env: Env) -> None:
    env = wf_env
    folder = write_steps_plugin(env.root / "plugins")
    folder.chmod(0o777)
    env.write_config(f'plugins_dir = "{folder}"\n' + env.config.read_text())
    proc = env.run("start", check=False, timeout=120)
    assert proc.returncode == 2
    assert f"plugins folder {folder} is writable by its group and every user" in proc.stderr
    check = env.run("check", check=False)
    assert check.returncode == 2 and "FAIL plugins_dir: plugins folder" in check.stdout
