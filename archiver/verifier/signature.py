"""The package signature of a bundle, as WACZ Signing and Verification 0.1.0 ("wacz-auth")
describes: `datapackage-digest.json` holds `signedData`, an anonymous signature of the
`hash` of `datapackage.json`.

- `signature`: ECDSA P-384 over the UTF-8 bytes of `hash` with SHA-256, the two integers
  r and s as 48 bytes each (the form WebCrypto gives and takes), base64;
- `publicKey`: that key as DER SubjectPublicKeyInfo, base64;
- `created`, `software`, `version` as the spec lists them (`created` equal to
  datapackage.json's, which py-wacz checks).

An anonymous signature proves nothing about who made it, so we add two fields of our own
that tie the package to the archive's evidence-log key: `archiverSignature`, the Ed25519
signature of `ARCHIVER_CONTEXT || hash || "\\n" || created`, and `archiverPublicKey`, the
Ed25519 key (DER SubjectPublicKeyInfo, base64), which must be the key that signed the
bundle's tree head.
"""
from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SPEC_VERSION = "0.1.0"
ARCHIVER_CONTEXT = b"archiver-wacz-signature-v1\n"
P384_SIZE = 48


class SignatureError(ValueError):
    """The package signature is missing, malformed or does not check."""


def archiver_signed_bytes(hash_value: str, created: str) -> bytes:
    return ARCHIVER_CONTEXT + hash_value.encode("utf-8") + b"\n" + created.encode("utf-8")


def spki_der(public) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_signed_data(signed: dict, package_hash: str, created: str) -> Ed25519PublicKey:
    """Check `signedData` against the digest's hash and the package's creation time; return
    the archive key that signed it. Raises SignatureError saying what is wrong."""
    if not isinstance(signed, dict):
        raise SignatureError("datapackage-digest.json has no signedData: the package is not signed")
    for name in ("hash", "created", "signature", "publicKey", "archiverSignature", "archiverPublicKey"):
        if not isinstance(signed.get(name), str):
            raise SignatureError(f"signedData has no {name}")
    if signed["hash"] != package_hash:
        raise SignatureError(f"signedData signs {signed['hash']}, but datapackage.json hashes to {package_hash}")
    if signed["created"] != created:
        raise SignatureError(f"signedData was created {signed['created']}, the package says {created}")
    try:
        ecdsa_key = serialization.load_der_public_key(base64.b64decode(signed["publicKey"], validate=True))
        raw = base64.b64decode(signed["signature"], validate=True)
        archive_key = serialization.load_der_public_key(base64.b64decode(signed["archiverPublicKey"], validate=True))
        archive_signature = base64.b64decode(signed["archiverSignature"], validate=True)
    except ValueError as exc:
        raise SignatureError(f"signedData is malformed: {exc}") from None
    if not isinstance(ecdsa_key, ec.EllipticCurvePublicKey) or ecdsa_key.curve.name != "secp384r1":
        raise SignatureError("signedData.publicKey is not an ECDSA P-384 key")
    if len(raw) != 2 * P384_SIZE:
        raise SignatureError(f"signedData.signature is {len(raw)} bytes; an ECDSA P-384 signature is 96")
    der = encode_dss_signature(int.from_bytes(raw[:P384_SIZE], "big"), int.from_bytes(raw[P384_SIZE:], "big"))
    try:
        ecdsa_key.verify(der, signed["hash"].encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("the package signature (ECDSA) does not match datapackage.json's hash") from None
    if not isinstance(archive_key, Ed25519PublicKey):
        raise SignatureError("signedData.archiverPublicKey is not an Ed25519 key")
    try:
        archive_key.verify(archive_signature, archiver_signed_bytes(signed["hash"], signed["created"]))
    except InvalidSignature:
        raise SignatureError("the archive's signature of the package (Ed25519) does not check") from None
    return archive_key
