"""Signing a bundle's datapackage.json as wacz-auth 0.1.0 describes (the checking half is
archiver/verifier/signature.py, which holds the format).

The ECDSA P-384 package key is made on first use and kept beside the log key in
`<data>/keys/wacz-ecdsa-p384.pem` (mode 0600); the archive's Ed25519 log key countersigns.
"""
from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from archiver import SOFTWARE_NAME, __version__
from archiver.ledger.keys import load_or_create_private_key
from archiver.verifier.signature import P384_SIZE, SPEC_VERSION, archiver_signed_bytes, spki_der

PACKAGE_KEY_FILE = "wacz-ecdsa-p384.pem"


def load_or_create_package_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    path = Path(data_dir) / "keys" / PACKAGE_KEY_FILE
    key = load_or_create_private_key(path, lambda: ec.generate_private_key(ec.SECP384R1()))
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise ValueError(f"{path} does not hold an ECDSA P-384 private key")
    return key


def signed_data(package_hash: str, created: str, package_key: ec.EllipticCurvePrivateKey,
                archive_key: Ed25519PrivateKey) -> dict:
    """The `signedData` of datapackage-digest.json for a package whose datapackage.json
    hashes to `package_hash` ("sha256:<hex>") and says it was `created`."""
    der = package_key.sign(package_hash.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(P384_SIZE, "big") + s.to_bytes(P384_SIZE, "big")
    return {
        "hash": package_hash,
        "created": created,
        "software": f"{SOFTWARE_NAME}/{__version__}",
        "version": SPEC_VERSION,
        "signature": base64.b64encode(raw).decode("ascii"),
        "publicKey": base64.b64encode(spki_der(package_key.public_key())).decode("ascii"),
        "archiverSignature": base64.b64encode(
            archive_key.sign(archiver_signed_bytes(package_hash, created))).decode("ascii"),
        "archiverPublicKey": base64.b64encode(spki_der(archive_key.public_key())).decode("ascii"),
    }
