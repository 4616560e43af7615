"""The standalone verifier of evidence bundles: `archiver-verify FILE.wacz`.

It needs the bundle and nothing else: no data folder, no catalogue, no network. Only the
standard library, `cryptography`, `warcio` and the pure Merkle functions of
`archiver.ledger.merkle` / key functions of `archiver.ledger.keys` are imported, so it can
be run far from the archive that made the bundle (docs/provenance.md).
"""
from archiver.verifier.bundle import verify_bundle
from archiver.verifier.report import Check, Report

__all__ = ["verify_bundle", "Check", "Report"]
