"""What a TLS connection tells us: protocol, cipher and the server's leaf certificate."""
from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timezone

from cryptography import x509

from archiver.fetch.types import TLSInfo

CertificateFacts = tuple[str, str | None, str | None, datetime | None, datetime | None]


def tls_info(version: str, cipher: str, cert_der: bytes | None) -> TLSInfo:
    """Build a TLSInfo; the certificate is parsed with `cryptography` when it parses."""
    info = TLSInfo(version=version, cipher=cipher)
    if not cert_der:
        return info
    info.cert_der = cert_der
    (info.cert_sha256, info.cert_subject, info.cert_issuer,
     info.cert_not_before, info.cert_not_after) = certificate_facts(cert_der)
    return info


# Exchanges over a kept connection, and the pages of one site, show the same certificate:
# it is read once (what is read depends on its bytes only).
@functools.lru_cache(maxsize=256)
def certificate_facts(cert_der: bytes) -> CertificateFacts:
    """Fingerprint, subject, issuer and validity of a DER certificate; only the
    fingerprint when it does not parse (its bytes are kept all the same)."""
    fingerprint = hashlib.sha256(cert_der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError:
        return fingerprint, None, None, None, None
    return (fingerprint, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
            cert.not_valid_before_utc.astimezone(timezone.utc),
            cert.not_valid_after_utc.astimezone(timezone.utc))
