"""Evidence downloads: WACZ 1.2 packages of captures (docs/export.md).

    package = wacz_tempfile(captures, settings, storage, title="...")   # a temp file + size
    write_wacz(fileobj, captures, settings, storage, title="...")       # any seekable file
"""
from archiver.export.selection import (MAX_SEARCH_CAPTURES, TooManyMatches, load_captures,
                                       matching_capture_ids)
from archiver.export.wacz import (ExportError, NothingToPackage, PackageFile, PackageSummary,
                                  WaczWriter, check_packable, wacz_tempfile, write_wacz)

__all__ = ["write_wacz", "wacz_tempfile", "WaczWriter", "PackageFile", "PackageSummary",
           "ExportError", "NothingToPackage", "check_packable", "load_captures",
           "matching_capture_ids", "TooManyMatches", "MAX_SEARCH_CAPTURES"]
