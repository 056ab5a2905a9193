"""`python -m astro.data.download`: the real transfer code against a loopback HTTP server with Range."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from astro.data import transfer
from astro.data.download import main
from astro.data.synthetic import generate_h5
from astro.data.transfer import download
from astro.errors import DownloadError

NAME = "Galaxy10_DECals.h5"


@dataclass
class Served:
    """One file served over HTTP with Range support, and the faults a test injects."""

    data: bytes
    url: str = ""
    ranges: list[str | None] = field(default_factory=list)  # the Range header of each request
    drop_after: int | None = None  # the next answer closes the connection after this many bytes
    ignore_range: bool = False  # answer 200 with the whole file, as some servers do
    status: int | None = None  # answer this error instead


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        served: Served = self.server.served
        header = self.headers.get("Range")
        served.ranges.append(header)
        if served.status:
            self.send_error(served.status)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", header or "")
        if match and not served.ignore_range:
            start, size = int(match.group(1)), len(served.data)
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        body = served.data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if served.drop_after is not None:
            body, served.drop_after, self.close_connection = body[: served.drop_after], None, True
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("remote") / NAME
    generate_h5(str(path), 20, seed=0)
    return path


@pytest.fixture
def server(h5: Path) -> Iterator[Served]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.served = Served(h5.read_bytes(), f"http://127.0.0.1:{httpd.server_port}/files/{NAME}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.served
    httpd.shutdown()
    httpd.server_close()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(server: Served, target: Path, **kwargs) -> Path:
    options = {"retries": 0, "backoff": 0.0, "progress": False, **kwargs}
    return download(server.url, target, options.pop("sha256", digest(server.data)), **options)


def test_a_dropped_connection_resumes_with_a_range_request(server, tmp_path):
    cut = len(server.data) // 3
    server.drop_after = cut
    target = fetch(server, tmp_path / NAME, retries=2)
    assert target.read_bytes() == server.data and not (tmp_path / f"{NAME}.part").exists()
    assert server.ranges == [None, f"bytes={cut}-"]


def test_a_run_that_gives_up_keeps_the_part_file_and_the_next_run_resumes(server, tmp_path):
    cut = len(server.data) // 2
    server.drop_after = cut
    with pytest.raises(DownloadError, match=f"{cut} bytes are kept in .*part: run the same command again"):
        fetch(server, tmp_path / NAME)
    assert (tmp_path / f"{NAME}.part").stat().st_size == cut and not (tmp_path / NAME).exists()
    assert fetch(server, tmp_path / NAME).read_bytes() == server.data
    assert server.ranges == [None, f"bytes={cut}-"]


def test_a_server_that_ignores_the_range_restarts_from_zero(server, tmp_path):
    (tmp_path / f"{NAME}.part").write_bytes(b"x" * 1000)
    server.ignore_range = True
    assert fetch(server, tmp_path / NAME).read_bytes() == server.data
    assert server.ranges == ["bytes=1000-"]


@pytest.mark.parametrize("extra", [b"", b"stale tail"], ids=["complete", "longer-than-the-file"])
def test_a_range_past_the_end_416_installs_a_complete_part_or_starts_over(server, tmp_path, extra):
    (tmp_path / f"{NAME}.part").write_bytes(server.data + extra)
    assert fetch(server, tmp_path / NAME).read_bytes() == server.data
    size = len(server.data) + len(extra)
    assert server.ranges == [f"bytes={size}-"] if not extra else [f"bytes={size}-", None]


def test_a_checksum_mismatch_installs_nothing_and_keeps_the_file_as_bad(server, tmp_path):
    with pytest.raises(DownloadError, match=rf"sha256 .* is {digest(server.data)}, expected 0+; .*\.bad"):
        fetch(server, tmp_path / NAME, sha256="0" * 64)
    assert not (tmp_path / NAME).exists() and not (tmp_path / f"{NAME}.part").exists()
    assert (tmp_path / f"{NAME}.bad").read_bytes() == server.data


def test_an_http_error_is_one_line_and_not_retried(server, tmp_path):
    server.status = 404
    with pytest.raises(DownloadError, match=r"/files/Galaxy10_DECals.h5: HTTP 404 Not Found$"):
        fetch(server, tmp_path / NAME, retries=3)
    assert len(server.ranges) == 1 and list(tmp_path.iterdir()) == []


def test_a_server_that_is_down_gives_one_line_and_leaves_nothing(tmp_path, capsys):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{NAME}"
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["galaxy10", "--dest", str(tmp_path), "--url", url, "--no-prepare"]
        )  # not retried: fails at once
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 1 and len(err) == 1, err
    expected = f"error: {url}: cannot reach 127.0.0.1:{port}: Connection refused; check the network"
    assert err[0] == f"{expected} connection or --url"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) for a real ENOSPC")
def test_a_full_disk_is_one_line(server, tmp_path):
    (tmp_path / f"{NAME}.part").symlink_to("/dev/full")  # every write fails with ENOSPC, from the kernel
    with pytest.raises(DownloadError, match=r"disk full writing .*part \(0 bytes stored, .* still to come\)"):
        fetch(server, tmp_path / NAME)
    assert not (tmp_path / NAME).exists()


def test_not_enough_free_space_is_refused_before_downloading(server, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 10})())
    with pytest.raises(DownloadError, match=r"not enough space for .*: .* to download, 0.0 MB free in"):
        fetch(server, tmp_path / NAME)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_command_downloads_verifies_and_prepares_the_cache(server, tmp_path):
    args = [
        "galaxy10",
        "--dest",
        str(tmp_path / "data"),
        "--url",
        server.url,
        "--sha256",
        digest(server.data),
    ]
    hydra = [f"paths.cache_dir={tmp_path / 'cache'}", f"paths.output_dir={tmp_path / 'report'}"]
    main([*args, *hydra, f"hydra.run.dir={tmp_path / 'run'}", "image_size=32"])
    assert (tmp_path / "data" / NAME).read_bytes() == server.data
    (cache,) = (tmp_path / "cache").iterdir()
    assert (cache / "meta.json").is_file() and (tmp_path / "report" / "data_report.md").is_file()
    main([*args, "--no-prepare"])  # already there and verified: no second request
    assert server.ranges == [None]
