"""WACZ 1.2 packages of captures (docs/export.md).

One package holds, for every capture given:

    archive/capture-<id>.warc.gz    the capture's WARC records, byte for byte as stored
    provenance/capture-<id>.json    its provenance document
    text/capture-<id>.txt           its extracted text (when there is any)

and, for all of them together, `indexes/index.cdxj` (cdxj-indexer, response and revisit
records only), `pages/pages.jsonl` (one page per capture), `datapackage.json` (every file
with its sha256 and size) and `datapackage-digest.json` (the sha256 of datapackage.json).

The package is written to a file object as a stream: a capture's records are read from
storage one at a time, never the whole package in memory.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterable

from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from archiver import SOFTWARE_NAME, __version__
from archiver.config import Settings
from archiver.models import Capture
from archiver.provenance import capture_provenance
from archiver.warc import record_bytes
from storage import Storage

# py-wacz 0.6 `wacz validate` accepts a package only when `wacz_version` is exactly "1.1.1"
# and validates datapackage.json with frictionless, which takes `profile` for the location
# of a JSON Schema: WACZ 1.2.0's `profile: wacz` fails it. We write what py-wacz itself
# writes (docs/export.md, "Conformance").
WACZ_VERSION_FIELD = "1.1.1"
PROFILE = "data-package"
PAGES_PATH = "pages/pages.jsonl"
INDEX_PATH = "indexes/index.cdxj"
# What replay looks up. Our metadata and conversion records are not pages: metadata
# records have urn: target URIs, and a conversion record under the page's URL could
# stand in for the page (docs/warc.md, "Index with cdxj-indexer's default record set").
INDEXED_RECORDS = ("response", "revisit")
COPY_CHUNK = 1024 * 1024


class ExportError(ValueError):
    """The package cannot be made as asked; the message says why."""


class NothingToPackage(ExportError):
    """A capture has no WARC records (queued, fetching, or failed before any answer)."""


@dataclass(frozen=True)
class Resource:
    """One file in the package, as datapackage.json lists it."""
    name: str
    path: str
    hash: str            # "sha256:<hex>"
    bytes: int

    def to_json(self) -> dict:
        return {"name": self.name, "path": self.path, "hash": self.hash, "bytes": self.bytes}


@dataclass(frozen=True)
class Page:
    capture_id: int
    url: str
    ts: str              # RFC 3339, the WARC-Date of the capture's final response
    title: str | None
    text: str | None

    def to_json(self) -> dict:
        page = {"id": f"capture-{self.capture_id}", "url": self.url, "ts": self.ts}
        if self.title:
            page["title"] = self.title
        if self.text:
            page["text"] = self.text
        return page


@dataclass
class PackageSummary:
    """What went into a package."""
    capture_ids: list[int] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    datapackage_hash: str = ""


def capture_text_document(capture: Capture) -> str | None:
    """The text as the /text download gives it: title line, blank line, body."""
    if not capture.text:
        return None
    document = f"{capture.title}\n\n{capture.text}" if capture.title else capture.text
    return document + "\n"


def check_packable(capture: Capture) -> None:
    """Raises NothingToPackage unless the capture has a WARC record to put in a package."""
    if not capture.records:
        raise NothingToPackage(f"capture {capture.id} has no WARC records (state: {capture.state}); "
                               "there is nothing to package")


class _HashingEntry:
    """A zip member being written: counts and hashes what goes in."""

    def __init__(self, zf: zipfile.ZipFile, path: str, date_time: tuple, compress: int,
                 size_hint: int = 0):
        info = zipfile.ZipInfo(path, date_time)
        info.compress_type = compress
        info.file_size = size_hint     # lets zipfile choose ZIP64 ahead for large members
        self.path = path
        self._out = zf.open(info, "w")
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._sha256.update(data)
        self.size += len(data)
        return self._out.write(data)

    def close(self) -> Resource:
        self._out.close()
        return Resource(name=os.path.basename(self.path), path=self.path,
                        hash=f"sha256:{self._sha256.hexdigest()}", bytes=self.size)


class WaczWriter:
    """Writes one WACZ package to `out` (a seekable binary file object).

    `now()` gives the package's creation time and the zip members' dates; pin it in a
    subclass to make byte-identical packages.
    """

    def __init__(self, settings: Settings, storage: Storage, *, title: str,
                 description: str = "", tmp_dir: Path | None = None):
        self.settings = settings
        self.storage = storage
        self.title = title
        self.description = description
        self.tmp_dir = tmp_dir

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def write(self, out: BinaryIO, captures: Iterable[Capture]) -> PackageSummary:
        """Package `captures` (rows with `.records` and their `.warc_file` loaded).

        Raises NothingToPackage before writing anything if a capture has no records,
        ExportError if there are no captures or a record cannot be read back whole.
        """
        captures = list(captures)
        if not captures:
            raise ExportError("no captures to package")
        for capture in captures:
            check_packable(capture)
        created = self.now().astimezone(timezone.utc).replace(microsecond=0)
        date_time = created.timetuple()[:6]
        summary = PackageSummary()
        index_lines: list[str] = []
        with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
            for capture in captures:
                page, lines, resources = self._add_capture(zf, capture, date_time)
                summary.capture_ids.append(capture.id)
                if page is not None:
                    summary.pages.append(page)
                summary.resources.extend(resources)
                index_lines.extend(lines)
                for path, data in self.capture_files(capture):
                    summary.resources.append(self._add_bytes(zf, path, data, date_time))
            summary.resources.append(self._add_index(zf, index_lines, date_time))
            summary.resources.append(self._add_pages(zf, summary.pages, date_time))
            for path, data in self.package_files(summary):
                summary.resources.append(self._add_bytes(zf, path, data, date_time))
            datapackage = self._datapackage(summary, created)
            zf.writestr(self._info("datapackage.json", date_time), datapackage)
            summary.datapackage_hash = f"sha256:{hashlib.sha256(datapackage).hexdigest()}"
            digest = {"path": "datapackage.json", "hash": summary.datapackage_hash}
            signed = self.sign(summary.datapackage_hash, package_stamp(created))
            if signed is not None:
                digest["signedData"] = signed
            zf.writestr(self._info("datapackage-digest.json", date_time),
                        json.dumps(digest, indent=2).encode())
        return summary

    # Hooks for packages that carry more (archiver/evidence/bundle.py): extra files per
    # capture and for the whole package, each (path one folder deep, bytes), listed in
    # datapackage.json like the others; and the `signedData` of datapackage-digest.json.
    def capture_files(self, capture: Capture) -> list[tuple[str, bytes]]:
        return []

    def package_files(self, summary: PackageSummary) -> list[tuple[str, bytes]]:
        return []

    def sign(self, datapackage_hash: str, created: str) -> dict | None:
        return None

    @staticmethod
    def _info(path: str, date_time: tuple) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(path, date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    def _add_capture(self, zf: zipfile.ZipFile, capture: Capture, date_time: tuple):
        warc_name = f"capture-{capture.id}.warc.gz"
        resources = []
        with tempfile.TemporaryDirectory(dir=self.tmp_dir, prefix="wacz-") as tmp:
            warc_path = os.path.join(tmp, warc_name)
            final = None                      # (target URI, WARC-Date) of the last response
            with open(warc_path, "wb") as warc:
                for loc in [*_revisited_response(capture), *capture.records]:
                    data = record_bytes(self.storage, self.settings, loc.warc_file.filename,
                                        loc.offset, loc.length)
                    if len(data) != loc.length:
                        raise ExportError(
                            f"capture {capture.id}: the {loc.record_type} record at "
                            f"{loc.warc_file.filename}:{loc.offset} should be {loc.length} bytes, "
                            f"storage gave {len(data)}")
                    if loc.record_type in ("response", "revisit") and not loc.requisite:
                        final = _target_and_date(data)        # the page's own, the last one
                    warc.write(data)
            lines = _index_lines(warc_path, warc_name)
            with open(warc_path, "rb") as warc:
                entry = _HashingEntry(zf, f"archive/{warc_name}", date_time, zipfile.ZIP_STORED,
                                      size_hint=os.path.getsize(warc_path))
                while chunk := warc.read(COPY_CHUNK):
                    entry.write(chunk)
                resources.append(entry.close())
        provenance = json.dumps(capture_provenance(capture), indent=2, sort_keys=True,
                                ensure_ascii=False).encode() + b"\n"
        resources.append(self._add_bytes(zf, f"provenance/capture-{capture.id}.json", provenance,
                                         date_time))
        text = capture_text_document(capture)
        if text is not None:
            resources.append(self._add_bytes(zf, f"text/capture-{capture.id}.txt", text.encode(),
                                             date_time))
        page = None
        if final is not None:
            page = Page(capture.id, url=final[0], ts=final[1], title=capture.title,
                        text=capture.text)
        return page, lines, resources

    @staticmethod
    def _add_bytes(zf: zipfile.ZipFile, path: str, data: bytes, date_time: tuple) -> Resource:
        entry = _HashingEntry(zf, path, date_time, zipfile.ZIP_DEFLATED)
        entry.write(data)
        return entry.close()

    @staticmethod
    def _add_index(zf: zipfile.ZipFile, lines: list[str], date_time: tuple) -> Resource:
        entry = _HashingEntry(zf, INDEX_PATH, date_time, zipfile.ZIP_DEFLATED)
        previous = None
        for line in sorted(lines):      # the order `cdxj-indexer --sort` gives
            if line != previous:
                entry.write(line.encode("utf-8"))
            previous = line
        return entry.close()

    def _add_pages(self, zf: zipfile.ZipFile, pages: list[Page], date_time: tuple) -> Resource:
        entry = _HashingEntry(zf, PAGES_PATH, date_time, zipfile.ZIP_DEFLATED)
        header = {"format": "json-pages-1.0", "id": "pages", "title": self.title,
                  "hasText": any(p.text for p in pages)}
        for line in [header] + [p.to_json() for p in pages]:
            entry.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
        return entry.close()

    def _datapackage(self, summary: PackageSummary, created: datetime) -> bytes:
        stamp = package_stamp(created)
        package = {
            "profile": PROFILE,
            "wacz_version": WACZ_VERSION_FIELD,
            "title": self.title,
            "description": self.description,
            "created": stamp,
            "modified": stamp,
            "software": f"{SOFTWARE_NAME}/{__version__}",
            "captures": summary.capture_ids,
        }
        if len(summary.pages) == 1:
            home = summary.pages[0]
            package.update(home={"url": home.url, "ts": home.ts},
                           mainPageURL=home.url, mainPageDate=home.ts)
        package["resources"] = [r.to_json() for r in summary.resources]
        return json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")


def package_stamp(created: datetime) -> str:
    """The package's `created` as datapackage.json (and a signature's `created`) give it."""
    return created.strftime("%Y-%m-%dT%H:%M:%SZ")


def _revisited_response(capture: Capture) -> list:
    """For a capture stored as a revisit (docs/changes.md), the response record holding its
    payload, written first into its WARC so the package replays on its own."""
    original = capture.revisited if capture.revisit_of else None
    if original is None:
        return []
    return [loc for loc in original.records if loc.record_type == "response"
            and not loc.requisite and loc.target_uri == original.final_url][-1:]


def _target_and_date(member: bytes) -> tuple[str, str] | None:
    for record in ArchiveIterator(io.BytesIO(member)):
        return (record.rec_headers.get_header("WARC-Target-URI"),
                record.rec_headers.get_header("WARC-Date"))
    return None


def _index_lines(warc_path: str, warc_name: str) -> list[str]:
    """CDXJ lines of one WARC file, named as it is in the package's archive/ folder."""
    out = io.StringIO()
    CDXJIndexer(out, [warc_path], filename=warc_name, records=",".join(INDEXED_RECORDS)).process_all()
    return out.getvalue().splitlines(keepends=True)


def write_wacz(out: BinaryIO, captures: Iterable[Capture], settings: Settings, storage: Storage, *,
               title: str, description: str = "", tmp_dir: Path | None = None) -> PackageSummary:
    """Write a WACZ package of `captures` to `out`; see WaczWriter.write."""
    return WaczWriter(settings, storage, title=title, description=description,
                      tmp_dir=tmp_dir).write(out, captures)


@dataclass
class PackageFile:
    """A finished package in an anonymous temporary file (gone once closed)."""
    file: BinaryIO       # positioned at its start; the caller closes it
    size: int
    summary: PackageSummary


def wacz_tempfile(captures: Iterable[Capture], settings: Settings, storage: Storage, *,
                  title: str, description: str = "") -> PackageFile:
    """Write the package to a temporary file under `<data>/tmp` (on the data disk, which has
    room for large captures, unlike a memory-backed /tmp)."""
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.TemporaryFile(dir=tmp_dir, prefix="wacz-", suffix=".wacz")
    try:
        summary = write_wacz(handle, captures, settings, storage, title=title,
                             description=description, tmp_dir=tmp_dir)
        size = handle.seek(0, os.SEEK_END)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return PackageFile(handle, size, summary)
