"""WARC writing, sealing, reading and verifying (docs/warc.md).

    writer = WarcFileWriter(settings, storage, on_open=..., on_seal=...)
    written = writer.write_capture(CaptureRecords(...))   # durable on return
    sealed = writer.seal()
"""
from archiver.warc.reader import VerifyReport, read_record, record_bytes, verify_warc_file
from archiver.warc.records import CaptureRecords, RecordLocation
from archiver.warc.recovery import recover_open_files
from archiver.warc.writer import SealError, SealedFile, WarcFileWriter, WrittenCapture

__all__ = ["WarcFileWriter", "CaptureRecords", "WrittenCapture", "RecordLocation", "SealedFile",
           "SealError", "read_record", "record_bytes", "verify_warc_file", "VerifyReport",
           "recover_open_files"]
