"""Resumable, checksum-verified HTTP download of one large file.

Bytes go to `<name>.part`; an interrupted transfer resumes from there with an HTTP Range request (retried
here with backoff, or by running again later). Only a file whose sha256 matches is renamed to its final
name, so a partial or corrupt file is never mistaken for a complete one.
"""

from __future__ import annotations

import errno
import fcntl
import http.client
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from astro.data.galaxy10 import file_sha256
from astro.errors import DownloadError

log = logging.getLogger(__name__)
BLOCK = 1 << 20
RETRYABLE_HTTP = {408, 429, 500, 502, 503, 504}


class _Interrupted(Exception):
    """A transient failure (connection lost, timeout, HTTP 5xx): worth another try."""


class _Unreachable(_Interrupted):
    """The host cannot be reached (DNS, refused, connect timeout): no retry on the first try, so a machine
    without network gets its answer at once."""


def download(
    url: str,
    target: Path,
    sha256: str,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Fetch `url` to `target` through `target.part` (resumed if present); verify, then rename."""
    if target.exists():
        if file_sha256(target) != sha256.lower():
            raise DownloadError(f"{target} exists but its sha256 is not the expected {sha256}: move it away")
        log.info("%s is already here and its sha256 matches", target)
        return target
    part = target.with_name(target.name + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = open(part, "ab", buffering=0)  # noqa: SIM115 (closed below; unbuffered: ENOSPC surfaces at once)
    except OSError as exc:
        raise DownloadError(f"cannot write {part}: {exc.strerror}") from None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"another download is writing {part}; wait for it to finish") from None
        try:
            _fetch_with_retries(url, fh, part, retries, backoff, timeout, progress)
        except DownloadError:
            if not fh.tell():
                part.unlink(missing_ok=True)
            raise
        os.fsync(fh.fileno())
    _install(url, part, target, sha256)
    return target


def _fetch_with_retries(
    url: str, fh: BinaryIO, part: Path, retries: int, backoff: float, timeout: float, progress: bool
) -> None:
    """Try again after transient failures, waiting backoff, 2 x backoff, ...; each try resumes."""
    for attempt in range(retries + 1):
        try:
            return _fetch(url, fh, part, timeout, progress)
        except _Interrupted as exc:
            if attempt == retries or (attempt == 0 and isinstance(exc, _Unreachable)):
                tries = f" (gave up after {attempt + 1} tries)" if attempt else ""
                kept = f"; {fh.tell()} bytes are kept in {part}: run the same command again to resume"
                raise DownloadError(
                    f"{url}: {exc}{tries}; check the network connection or --url{kept if fh.tell() else ''}"
                ) from None
            wait = backoff * 2**attempt
            log.warning(
                "%s; retrying in %.0f s from byte %d (%d of %d)", exc, wait, fh.tell(), attempt + 1, retries
            )
            time.sleep(wait)


def _fetch(url: str, fh: BinaryIO, part: Path, timeout: float, progress: bool) -> None:
    """One request: continue from the end of the .part file, or start over if the server cannot."""
    offset = fh.tell()
    request = urllib.request.Request(url, headers={"User-Agent": "astro-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # nothing after `offset`: complete if the server's size is ours, else stale
            if _total(exc.headers.get("Content-Range")) == offset:
                return
            _restart(fh, f"{part} does not fit the file on the server")
            return _fetch(url, fh, part, timeout, progress)
        if exc.code in RETRYABLE_HTTP:
            raise _Interrupted(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise _Unreachable(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(f"no answer from {urllib.parse.urlsplit(url).netloc} ({exc})") from None
    with response:
        if response.status == 206:
            total = _total(response.headers.get("Content-Range"))
            start = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if start is None or int(start.group(1)) != offset:
                _restart(fh, f"the server resumed at {response.headers.get('Content-Range')}, not {offset}")
                raise _Interrupted("unusable range answer")
        else:
            if offset:
                _restart(fh, "the server does not resume (HTTP 200 to a range request)")
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        _check_space(part, total, fh.tell())
        _stream(response, fh, part, total, progress)
    if total is not None and fh.tell() < total:
        raise _Interrupted(f"connection closed at byte {fh.tell()} of {total}")


def _stream(
    response: http.client.HTTPResponse, fh: BinaryIO, part: Path, total: int | None, progress: bool
) -> None:
    name = part.name.removesuffix(".part")
    with tqdm(total=total, initial=fh.tell(), unit="B", unit_scale=True, unit_divisor=1024, desc=name,
              disable=not progress, mininterval=0.5) as bar:  # fmt: skip
        while True:
            try:
                block = response.read1(BLOCK)  # what has arrived: smooth progress on a slow link
            except (OSError, http.client.HTTPException) as exc:
                raise _Interrupted(f"connection lost at byte {fh.tell()} ({type(exc).__name__})") from None
            if not block:
                return
            _write(fh, block, part, total)
            bar.update(len(block))


def _write(fh: BinaryIO, block: bytes, part: Path, total: int | None) -> None:
    view = memoryview(block)
    try:
        while view:
            view = view[fh.write(view) :]
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        left = f", {_size(total - fh.tell())} still to come" if total else ""
        raise DownloadError(
            f"disk full writing {part} ({fh.tell()} bytes stored{left}); free some space "
            "(or pass --dest) and run the same command again to resume"
        ) from None


def _check_space(part: Path, total: int | None, offset: int) -> None:
    """Refuse before streaming gigabytes onto a disk that cannot hold them."""
    free = shutil.disk_usage(part.parent).free
    if total is not None and total - offset > free:
        raise DownloadError(
            f"not enough space for {part.name}: {_size(total - offset)} to download, {_size(free)} free "
            f"in {part.parent}; free some space or pass --dest"
        )


def _restart(fh: BinaryIO, why: str) -> None:
    log.warning("%s: starting over from byte 0", why)
    fh.truncate(0)
    fh.seek(0)


def _total(content_range: str | None) -> int | None:
    """The full size from `bytes 0-99/1000` or `bytes */1000`."""
    found = re.search(r"/(\d+)\s*$", content_range or "")
    return int(found.group(1)) if found else None


def _install(url: str, part: Path, target: Path, sha256: str) -> None:
    actual = file_sha256(part)
    if actual != sha256.lower():
        bad = target.with_name(target.name + ".bad")
        os.replace(part, bad)
        raise DownloadError(
            f"{url}: sha256 of the downloaded file is {actual}, expected {sha256}; it is kept as {bad} "
            "(delete it) and nothing was installed: run the command again to download afresh"
        )
    os.replace(part, target)
    log.info("%s: sha256 %s verified", target, sha256.lower())


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
