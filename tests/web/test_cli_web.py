"""`wafersim web`: loopback unless --host says otherwise, and the missing extra named."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from wafersim.cli.main import main
from wafersim.errors import WafersimError


def _listening(port: int) -> list[str]:
    """Local addresses of listening TCP sockets on this port (/proc/net/tcp and tcp6, Linux)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            address, port_hex = local.split(":")
            if int(port_hex, 16) == port and state == "0A":  # 0A = LISTEN
                found.append(address)
    return found


def test_serves_on_loopback_by_default(tmp_path):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp: cannot read which address the server binds")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "wafersim.cli.main", "web", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as response:
                    assert response.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "wafersim web did not answer within 30 s"
                time.sleep(0.2)
        assert _listening(port) == ["0100007F"]  # 127.0.0.1, little-endian hex; nothing on 0.0.0.0 or ::
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_host_option_is_passed_to_uvicorn(monkeypatch):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: seen.update(host=self.config.host))
    assert main(["web", "--port", "0"]) == 0
    assert seen["host"] == "127.0.0.1"
    assert main(["web", "--host", "0.0.0.0", "--port", "0"]) == 0
    assert seen["host"] == "0.0.0.0"


def test_missing_web_extra_is_named(monkeypatch):
    from wafersim.cli.web import _load_app

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(WafersimError, match=r"pip install -e '\.\[web\]'"):
        _load_app()
