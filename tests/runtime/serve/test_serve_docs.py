"""The serving docs stay true: the READMEs' curl examples run against a real server (the https ones against one
serving HTTPS, with the README's own openssl line's certificate), the systemd unit's command line is one the CLI
accepts (and systemd-analyze, where present, finds the unit valid)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TOKEN

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "runtime" / "deploy" / "edgedigits-rt.service"
PI_URL = "http://raspberrypi.local:8000"
PI_HTTPS = "https://raspberrypi.local:8000"


def _curl_lines(readme: Path) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("curl ")]


def _openssl_line() -> str:
    """The runtime README's command that makes a self-signed certificate."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "runtime" / "README.md").read_text(encoding="utf-8"), flags=re.S)
    (line,) = [x.strip() for b in blocks for x in b.splitlines() if x.strip().startswith("openssl req ")]
    return line


@pytest.fixture(scope="module")
def https_token_server(tmp_path_factory):
    """A server with the token over HTTPS, its certificate made by the README's openssl line (for 127.0.0.1)."""
    from conftest import Server

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command here: apt-get install openssl")
    root = tmp_path_factory.mktemp("readme-tls")
    line = _openssl_line().replace("raspberrypi.local", "localhost").replace("192.168.1.20", "127.0.0.1")
    out = subprocess.run(["bash", "-c", line], cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, (line, out.stderr)
    assert (root / "key.pem").stat().st_mode & 0o077 == 0  # chmod 600: the key is its owner's alone
    s = Server(["--tls-cert", str(root / "cert.pem"), "--tls-key", str(root / "key.pem")],
               env={"EDGEDIGITS_TOKEN": TOKEN})
    s.cert = root / "cert.pem"
    yield s
    assert s.stop() == 0 and "warning" not in s.stderr, s.stderr


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("readme", ["runtime/README.md", "README.md"])
def test_readme_curl_examples_run(readme, token_server, request, tmp_path, mnist_test):
    from photos import make_number_photo, make_photo
    from PIL import Image

    images, labels = mnist_test
    assert labels[0] == 7
    rng = np.random.default_rng(0)
    Image.fromarray(images[0]).save(tmp_path / "digit.png")
    for name in ("photo.jpg", "digit.jpg"):
        (tmp_path / name).write_bytes(make_photo(images[0], rng))
    (tmp_path / "meter.jpg").write_bytes(make_number_photo(images[[1, 2, 3]], rng, spacing="apart")[0])
    meter = "".join(str(int(d)) for d in labels[[1, 2, 3]])
    lines = _curl_lines(ROOT / readme)
    assert lines, f"{readme} lost its curl examples"
    for line in lines:
        if PI_HTTPS in line:
            server = request.getfixturevalue("https_token_server")
            shutil.copy(server.cert, tmp_path / "cert.pem")
            command = line.replace(PI_HTTPS, server.url).replace("s3cret", TOKEN)
        else:
            assert PI_URL in line, line
            command = line.replace(PI_URL, token_server.url).replace("s3cret", TOKEN)
        out = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "EDGEDIGITS_TOKEN": TOKEN}, check=False)
        assert out.returncode == 0, (line, out.stderr)
        body = json.loads(out.stdout)
        assert "error" not in body, (line, body)
        if "/v1/predict" in line:
            assert body["label"] == 7, (line, body)
        if "/v1/read" in line:
            assert body["number"] == meter, (line, body)


def _exec_start() -> list[str]:
    (line,) = [x for x in UNIT.read_text().splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.split("=", 1)[1])


def test_systemd_unit_command_line_is_valid():
    from typer.testing import CliRunner

    from edgedigits_runtime.cli import app

    argv = _exec_start()
    assert argv[0].endswith("/bin/edgedigits-rt") and argv[1] == "serve"
    help_text = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    for option in (a for a in argv[2:] if a.startswith("--")):
        assert option in help_text, f"the unit passes {option}, which `edgedigits-rt serve` does not take"
    text = UNIT.read_text()
    assert "EDGEDIGITS_TOKEN" in text and "--token" not in text  # the token stays off the command line
    assert "KillSignal=SIGTERM" in text and "WantedBy=multi-user.target" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_verifies(tmp_path):
    """systemd's own checker on the unit, with ExecStart pointing at this machine's edgedigits-rt."""
    binary = Path(sys.executable).parent / "edgedigits-rt"
    if not binary.exists():
        pytest.skip(f"no edgedigits-rt script beside {sys.executable}")
    unit = tmp_path / UNIT.name
    argv = _exec_start()
    text = UNIT.read_text().replace(argv[0], str(binary))
    unit.write_text(text.replace("EnvironmentFile=/etc/edgedigits.env", f"EnvironmentFile=-{tmp_path}/missing.env"))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    problems = [line for line in (out.stdout + out.stderr).splitlines()
                if UNIT.name in line and "Failed to" not in line and "user" not in line.lower()]
    assert not problems, out.stdout + out.stderr
