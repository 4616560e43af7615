"""Importing WARCs made by other tools (wget, Heritrix, pywb, Browsertrix) into the archive
(docs/import.md).

    report = import_warc(settings, sessions, storage, path, imported_by="cli:alice")
    report.capture_ids, report.duplicates, report.problems, report.ok
"""
from archiver.importer.models import ImportJob
from archiver.importer.service import ImportReport, import_warc

__all__ = ["import_warc", "ImportReport", "ImportJob"]
