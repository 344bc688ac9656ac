"""The RPM built by scripts/build-rpm.sh with the real rpmbuild, and the systemd unit it ships."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import fields, replace
from pathlib import Path

import pytest

from gd2.config import Config
from gd2.config.settings import load_config
from gd2.testing import venv_bin

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "glusterd2.service"
DEFAULT_TOML = REPO / "systemd" / "glusterd2.toml"

pytestmark = pytest.mark.integration


def _run(*cmd: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd,
                            timeout=600, check=False)
    assert result.returncode == 0, f"{cmd}: {result.stdout}\n{result.stderr}"
    return result.stdout


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian: apt-get install rpm systemd)")
    return path


@pytest.fixture(scope="module")
def rpm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _program("rpmbuild")
    out = tmp_path_factory.mktemp("rpm")
    # The build python is the one running these tests: it has meson-python, meson, ninja and cffi.
    env = {**os.environ, "GD2_BUILD_PYTHON": sys.executable,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    printed = _run(REPO / "scripts" / "build-rpm.sh", out, env=env).strip().splitlines()
    path = Path(printed[-1])
    assert path.parent == out and path.name.startswith("glusterd2-0.1.0-1.") and path.suffix == ".rpm"
    return path


def _query(rpm: Path, *args: str) -> list[str]:
    return _run("rpm", "-qp", *args, rpm).splitlines()


def test_rpm_file_list(rpm_file: Path) -> None:
    files = set(_query(rpm_file, "-l"))
    for path in ("/usr/bin/glusterd2", "/usr/bin/gd2ctl", "/usr/lib/systemd/system/glusterd2.service",
                 "/etc/glusterd2/glusterd2.toml", "/var/lib/glusterd2", "/var/log/glusterd2"):
        assert path in files, path
    [sitearch] = {f.split("/gd2/")[0] for f in files if f.endswith("/gd2/__init__.py")}
    assert re.fullmatch(r"/usr/lib(64)?/python3\.\d+/site-packages", sitearch)
    for module in ("gd2/__init__.py", "gd2/py.typed", "gd2/daemon/main.py", "gd2/daemon/notify.py",
                   "gd2/cli/main.py", "gd2/xdr/__init__.py"):
        assert f"{sitearch}/{module}" in files, module
    assert [f for f in files if re.fullmatch(rf"{sitearch}/gd2/xdr/_xdr_native\..*\.so", f)]
    assert f"{sitearch}/glusterd2-0.1.0.dist-info/entry_points.txt" in files
    assert not [f for f in files if "/tests/" in f or f.startswith(("/tmp", "/root", "/work"))]


def test_rpm_config_is_noreplace(rpm_file: Path) -> None:
    assert _query(rpm_file, "-c") == ["/etc/glusterd2/glusterd2.toml"]
    flags = dict(line.split(" ", 1) for line in _query(rpm_file, "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"))
    assert set(flags["/etc/glusterd2/glusterd2.toml"]) >= {"c", "n"}
    modes = dict(line.split(" ", 1) for line in _query(rpm_file, "--qf", "[%{FILENAMES} %{FILEMODES:perms}\n]"))
    assert modes["/usr/bin/glusterd2"] == modes["/usr/bin/gd2ctl"] == "-rwxr-xr-x"
    assert modes["/var/lib/glusterd2"].startswith("d")


def test_rpm_requires(rpm_file: Path) -> None:
    requires = _query(rpm_file, "--requires")
    names = {r.split(" ")[0] for r in requires}
    assert {"glusterfs-server", "etcd", "fuse", "systemd", "/usr/bin/python3"} <= names
    for dist in ("trio", "cslab-etcd3", "grpcio", "cysystemd", "msgpack", "cffi", "structlog", "fastapi",
                 "hypercorn", "jeepney"):
        assert f"python3dist({dist})" in names, dist
    assert any(re.fullmatch(r"python\(abi\) = 3\.\d+", r) for r in requires)


def test_rpm_systemd_scriptlets(rpm_file: Path) -> None:
    scripts = "\n".join(_query(rpm_file, "--scripts"))
    post = scripts.split("postinstall scriptlet")[1].split("scriptlet")[0]
    preun = scripts.split("preuninstall scriptlet")[1].split("scriptlet")[0]
    postun = scripts.split("postuninstall scriptlet")[1]
    assert "preset glusterd2.service" in post
    assert "disable --now glusterd2.service" in preun
    assert "try-restart glusterd2.service" in postun


def test_rpm_payload_runs(rpm_file: Path, tmp_path: Path) -> None:
    """The packaged entry point and compiled codec work, not just exist."""
    with rpm_file.open("rb") as rpm:
        payload = subprocess.run(["rpm2archive", "-"], stdin=rpm, capture_output=True, check=True,
                                 timeout=60).stdout
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        tar.extractall(tmp_path, filter="data")
    launcher = (tmp_path / "usr/bin/glusterd2").read_text()
    assert launcher.startswith("#!/usr/bin/python3") and "from gd2.daemon.main import run" in launcher
    [init] = tmp_path.glob("usr/lib*/python3.*/site-packages/gd2/__init__.py")
    sitearch = init.parent.parent
    probe = ("import gd2, gd2.xdr._xdr_native as n, gd2.daemon.main; "
             "print(gd2.__file__); print(n.__file__)")
    env = {**os.environ, "PYTHONPATH": str(sitearch)}
    # -S, and site-packages only at the end (for the dependencies): neither the installed gd2 nor an
    # editable install's import hook may answer for the packaged copy.
    site_dirs = [p for p in sys.path if p.endswith("site-packages")]
    code = f"import sys; sys.path.extend({site_dirs!r}); " + probe
    # cwd: `-c` puts the working directory first on sys.path, and the checkout's gd2 must not answer either.
    out = _run(sys.executable, "-S", "-c", code, env=env, cwd=tmp_path).splitlines()
    assert out[0].startswith(str(sitearch)) and out[1].startswith(str(sitearch)), out
    version = _run(sys.executable, "-S", "-c", f"import sys; sys.path.extend({site_dirs!r}); sys.argv[1:] = "
                   f"['--version']; exec(open({str(tmp_path / 'usr/bin/glusterd2')!r}).read())", env=env, cwd=tmp_path)
    assert version.strip() == "glusterd2 0.1.0"


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # The unit names /usr/bin/glusterd2, which exists only once the RPM is installed: verify a copy that
    # points at the binary of this checkout, everything else unchanged.
    text = UNIT.read_text()
    assert "ExecStart=/usr/bin/glusterd2 " in text
    copy = tmp_path / "glusterd2.service"
    copy.write_text(text.replace("ExecStart=/usr/bin/glusterd2 ", f"ExecStart={venv_bin('glusterd2')} "))
    result = subprocess.run([_program("systemd-analyze"), "verify", str(copy)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0 and "glusterd2.service" not in result.stderr, result.stderr


def test_unit_settings() -> None:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    expected = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30s", "Restart": "on-failure",
        "KillMode": "process", "After": "network-online.target", "Wants": "network-online.target",
        "Conflicts": "glusterd.service", "RuntimeDirectory": "glusterd2", "StateDirectory": "glusterd2",
        "LogsDirectory": "glusterd2", "WantedBy": "multi-user.target",
        "ExecStart": "/usr/bin/glusterd2 --config /etc/glusterd2/glusterd2.toml",
    }
    for key, value in expected.items():
        assert settings.get(key) == [value], key
    for key in ("RestartSec", "StartLimitIntervalSec", "StartLimitBurst", "LimitNOFILE"):
        assert key in settings, key


def test_default_config_lists_every_key_with_its_default(tmp_path: Path) -> None:
    text = DEFAULT_TOML.read_text()
    assert not [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    # (plugins is not a key but the [plugins.NAME] tables, shown by example at the end)
    keys = {f.name.replace("_", "-") for f in fields(Config) if f.name not in ("config_file", "plugins")}
    for key in keys:
        assert re.search(rf"^# {key} = ", text, re.MULTILINE), key
    # Uncommenting every key (the first example of each) changes nothing.
    seen: set[str] = set()
    lines = []
    for line in text.splitlines():
        match = re.match(r"^# ([a-z-]+) = ", line)
        if match and match[1] in keys and match[1] not in seen:
            seen.add(match[1])
            lines.append(line[2:])
    uncommented = tmp_path / "glusterd2.toml"
    uncommented.write_text("\n".join(lines) + "\n")
    assert replace(load_config(["--config", str(uncommented)]), config_file=None) == Config()
