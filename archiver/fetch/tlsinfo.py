"""What a TLS connection tells us: protocol, cipher and the server's leaf certificate."""
from __future__ import annotations

import hashlib
from datetime import timezone

from cryptography import x509

from archiver.fetch.types import TLSInfo


def tls_info(version: str, cipher: str, cert_der: bytes | None) -> TLSInfo:
    """Build a TLSInfo; the certificate is parsed with `cryptography` when it parses."""
    info = TLSInfo(version=version, cipher=cipher)
    if not cert_der:
        return info
    info.cert_der = cert_der
    info.cert_sha256 = hashlib.sha256(cert_der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError:
        return info   # the fingerprint and the bytes are kept even if we cannot read them
    info.cert_subject = cert.subject.rfc4514_string()
    info.cert_issuer = cert.issuer.rfc4514_string()
    info.cert_not_before = cert.not_valid_before_utc.astimezone(timezone.utc)
    info.cert_not_after = cert.not_valid_after_utc.astimezone(timezone.utc)
    return info
