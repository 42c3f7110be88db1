"""Fetching a canonical archive when online: SHA-256 verified, cached, resumable, atomic — tested offline."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import shutil
import subprocess
import tarfile
import threading

import pytest
from seqkit_sentiment.polarity import sentence_polarity

from seqkit.data import DataError
from seqkit.download import fetch


def _archive(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("rt-polarity.pos", "un film charmant , très réussi\n"), ("rt-polarity.neg", "dull\n")):
            data = text.encode("latin-1")  # as the canonical archive is
            info = tarfile.TarInfo(f"rt-polaritydata/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "rt-polaritydata.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path, hashlib.sha256(buffer.getvalue()).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_polarity_downloads_when_absent_and_then_reads_the_cache(tmp_path, cache):
    archive, digest = _archive(tmp_path)
    records = sentence_polarity(str(tmp_path / "absent"), download=True, url=archive.as_uri(), sha256=digest)
    assert records == [
        {"text": "un film charmant , très réussi", "label": "positive"},
        {"text": "dull", "label": "negative"},
    ]
    assert (cache / "rt-polaritydata.tar.gz").is_file()
    archive.unlink()  # offline from now on: the cache serves
    assert sentence_polarity(str(tmp_path / "absent"), download=True, url=archive.as_uri(), sha256=digest) == records


def test_corrupted_archive_is_rejected_and_not_cached(tmp_path, cache):
    archive, digest = _archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataError, match="corrupted .*expected " + digest):
        sentence_polarity(str(tmp_path / "absent"), download=True, url=archive.as_uri(), sha256=digest)
    assert not list(cache.iterdir())  # neither the archive nor a partial file


def test_download_resumes_a_partial_file(tmp_path, cache):
    payload = bytes(range(256)) * 400
    digest = hashlib.sha256(payload).hexdigest()
    requests = []

    class Ranged(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-"))
            requests.append(start)
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(payload) - start))
            self.end_headers()
            self.wfile.write(payload[start:])

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ranged)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cache.mkdir()
        (cache / "blob.bin.part").write_bytes(payload[:30000])  # an interrupted earlier download
        path = fetch(f"http://127.0.0.1:{server.server_port}/blob.bin", digest)
    finally:
        server.shutdown()
    assert requests == [30000]  # only the rest was fetched
    assert path.read_bytes() == payload
    assert not (cache / "blob.bin.part").exists()


def test_unreachable_url_is_a_clear_error(tmp_path, cache):
    with pytest.raises(DataError, match="download failed"):
        fetch((tmp_path / "nowhere.tar.gz").as_uri(), "0" * 64)


def test_an_unverified_file_is_cached_under_its_own_url(tmp_path, cache):
    """Without a checksum the cached file is reused as it is: one from another URL must never stand in for it."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "data.txt").write_text("from a")
    (tmp_path / "b" / "data.txt").write_text("from b")
    first = fetch((tmp_path / "a" / "data.txt").as_uri(), None)
    second = fetch((tmp_path / "b" / "data.txt").as_uri(), None)
    assert first.read_text() == "from a" and second.read_text() == "from b" and first != second
    assert fetch((tmp_path / "a" / "data.txt").as_uri(), None) == first  # and reused for its own URL


def test_extraction_streams_and_stops_at_the_cap(tmp_path, monkeypatch):
    from seqkit.download import extracted

    archive, _ = _archive(tmp_path)
    monkeypatch.setenv("SEQKIT_DOWNLOAD_MAX_BYTES", "20")  # the two members hold 37 bytes
    with pytest.raises(DataError, match="extracts to more than the cap"):
        extracted(archive, tmp_path / "out", ["rt-polarity.pos", "rt-polarity.neg"])
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("SEQKIT_DOWNLOAD_MAX_BYTES", "20000")  # it unpacks to 10,240 (a tar record), all counted
    out = extracted(archive, tmp_path / "out", ["rt-polarity.pos", "rt-polarity.neg"])
    assert (out / "rt-polarity.neg").read_bytes() == b"dull\n"


def _damaged_zip(path, method, flag=0):
    """A zip whose one member ``data.txt`` is stored with *method*, its bytes garbled (or flagged encrypted)."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.txt", "good film\n" * 200)
    raw = bytearray(path.read_bytes())
    header = raw.index(b"PK\x03\x04")
    central = raw.index(b"PK\x01\x02")
    raw[header + 6 : header + 8] = raw[central + 8 : central + 10] = flag.to_bytes(2, "little")
    raw[header + 8 : header + 10] = raw[central + 10 : central + 12] = method.to_bytes(2, "little")
    body = header + 30 + len("data.txt")
    raw[body : body + 8] = b"\xff" * 8  # a deflate stream that cannot be inflated
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    "method,flag", [(8, 0), (8, 1), (99, 0)], ids=["corrupt-deflate", "encrypted", "unknown-method"]
)
def test_a_damaged_archive_is_a_data_error(tmp_path, method, flag):
    from seqkit.download import extracted

    archive = _damaged_zip(tmp_path / "bad.zip", method, flag)
    with pytest.raises(DataError, match=r"bad\.zip: cannot extract"):
        extracted(archive, tmp_path / "out", ["data.txt"])
    assert not (tmp_path / "out").exists()


# --- hostile archives: budgets checked as the archive is walked, never after it was read whole -------------------
GARBAGE = b"not gzip, never to be read " * 40  # after a gzip member: reading this far fails (BadGzipFile)


def _tar_bytes(members: list[tuple[str, bytes]], *, end: bool = True, **pax: str) -> bytes:
    """An uncompressed tar of regular files; without *end*, no end-of-archive blocks (more could follow)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i, (name, data) in enumerate(members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if pax and i == len(members) - 1:
                info.pax_headers = dict(pax)
            tar.addfile(info, io.BytesIO(data))
        written = tar.offset  # closing writes the end-of-archive blocks after this: `end=False` cuts them off
    return buffer.getvalue() if end else buffer.getvalue()[:written]


def _hostile(tmp_path, name: str, unpacked: bytes, tail: bytes = GARBAGE):
    path = tmp_path / name
    path.write_bytes(gzip.compress(unpacked, compresslevel=1) + tail)
    return path


def test_a_member_bigger_than_the_cap_is_refused_before_the_archive_is_read_whole(tmp_path, monkeypatch):
    """16 MiB of zeros (16 KiB compressed), walked past: read only to the cap, and the damaged tail after it never
    (before, every member was walked first, the whole bomb unpacked, and only the files extracted counted). To be
    extracted, it is refused from its header, before any of its data is read."""
    from seqkit.download import extracted

    monkeypatch.setenv("SEQKIT_DOWNLOAD_MAX_BYTES", "100000")
    bomb = _tar_bytes([("d/a.txt", b"hello\n"), ("d/zeros", bytes(16 << 20))], end=False)
    with pytest.raises(DataError, match=r"bomb\.tar\.gz: extracts to more than the cap of 100,000 bytes"):
        extracted(_hostile(tmp_path, "bomb.tar.gz", bomb), tmp_path / "out", ["a.txt"])
    assert not (tmp_path / "out").exists()
    read = []
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, member: read.append(member) or io.BytesIO())
    with pytest.raises(DataError, match=r"bomb\.tar\.gz: extracts to more than the cap of 100,000 bytes"):
        extracted(_hostile(tmp_path, "bomb.tar.gz", bomb), tmp_path / "out", ["a.txt", "zeros"])
    assert [member.name for member in read] == ["d/a.txt"]  # zeros: refused before it was opened


def test_many_members_are_refused_as_they_are_walked(tmp_path, monkeypatch):
    from seqkit.download import extracted

    monkeypatch.setenv("SEQKIT_EXTRACT_MAX_MEMBERS", "100")
    many = _tar_bytes([("d/a.txt", b"hello\n")] + [(f"d/{i}", b"") for i in range(150)], end=False)
    with pytest.raises(DataError, match=r"many\.tar\.gz: holds more than 100 members .*SEQKIT_EXTRACT_MAX_MEMBERS"):
        extracted(_hostile(tmp_path, "many.tar.gz", many), tmp_path / "out", ["a.txt"])
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("SEQKIT_EXTRACT_MAX_MEMBERS", "200")  # within the cap: the same members extract
    good = _tar_bytes([("d/a.txt", b"hello\n")] + [(f"d/{i}", b"") for i in range(150)])
    out = extracted(_hostile(tmp_path, "good.tar.gz", good, tail=b""), tmp_path / "out", ["a.txt"])
    assert (out / "a.txt").read_bytes() == b"hello\n"


def test_a_huge_header_is_refused_before_it_is_held_in_memory(tmp_path, monkeypatch):
    """tarfile reads a pax header whole, whatever size it claims: the reads it makes are metered."""
    from seqkit.download import extracted

    monkeypatch.setenv("SEQKIT_DOWNLOAD_MAX_BYTES", "200000")
    pax = _tar_bytes([("d/a.txt", b"hello\n"), ("d/b.txt", b"x")], comment="x" * 900_000)
    with pytest.raises(DataError, match=r"pax\.tar\.gz: extracts to more than the cap of 200,000 bytes"):
        extracted(_hostile(tmp_path, "pax.tar.gz", pax, tail=b""), tmp_path / "out", ["a.txt"])
    # larger than any real one: refused from the size its header announces, whatever the byte cap
    monkeypatch.setenv("SEQKIT_DOWNLOAD_MAX_BYTES", str(1 << 30))
    huge = _tar_bytes([("d/a.txt", b"hello\n")], comment="x" * 2_000_000)
    with pytest.raises(DataError, match=r"huge\.tar\.gz: holds an extended header of 2,000,\d+ bytes .*refused"):
        extracted(_hostile(tmp_path, "huge.tar.gz", huge), tmp_path / "out", ["a.txt"])


def test_a_zip_of_too_many_members_is_refused(tmp_path, monkeypatch):
    import zipfile

    from seqkit.download import extracted

    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        for i in range(150):
            archive.writestr(f"d/{i}.txt", "")
    monkeypatch.setenv("SEQKIT_EXTRACT_MAX_MEMBERS", "100")

    def listed(*args, **kwargs):
        raise AssertionError("the members were listed before the count its end record states was checked")

    monkeypatch.setattr(zipfile, "ZipFile", listed)
    with pytest.raises(DataError, match=r"many\.zip: holds more than 100 members"):
        extracted(tmp_path / "many.zip", tmp_path / "out", ["1.txt"])


@pytest.mark.skipif(shutil.which("tar") is None or shutil.which("truncate") is None, reason="needs GNU tar")
def test_a_sparse_member_walked_past_counts_the_bytes_it_takes_not_its_size(tmp_path, monkeypatch):
    from seqkit.download import extracted

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_bytes(b"hello\n")
    subprocess.run(["truncate", "-s", "1G", str(tmp_path / "d" / "big.img")], check=True)
    archive = tmp_path / "sparse.tar.gz"
    subprocess.run(["tar", "--sparse", "-czf", str(archive), "-C", str(tmp_path), "d"], check=True)
    assert archive.stat().st_size < 1 << 20
    monkeypatch.setenv("SEQKIT_DOWNLOAD_MAX_BYTES", str(16 << 20))  # far below the gigabyte it stands for
    assert (extracted(archive, tmp_path / "out", ["a.txt"]) / "a.txt").read_bytes() == b"hello\n"


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_each_compression_tarfile_reads_still_extracts(tmp_path, mode):
    from seqkit.download import extracted

    with tarfile.open(tmp_path / "a.tar", mode) as tar:
        info = tarfile.TarInfo("d/a.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    assert (extracted(tmp_path / "a.tar", tmp_path / "out", ["a.txt"]) / "a.txt").read_bytes() == b"hello\n"
