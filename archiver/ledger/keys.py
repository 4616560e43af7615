"""The archive's signing key and its signed tree heads.

The Ed25519 key is made on first use and kept in `<data>/keys/ledger-ed25519.pem`
(mode 0600). A tree head says "the log had `size` entries with this `root` at
`timestamp`"; its signature covers exactly these bytes:

    b"archiver-tree-head-v1\\n" || size (8 bytes, big-endian) || timestamp in ms (8 bytes) || root (32)

so anyone with the public key (published at /api/v1/log/public-key) can check a head
without trusting the server.
"""
from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "ledger-ed25519.pem"
HEAD_CONTEXT = b"archiver-tree-head-v1\n"


class HeadSignatureError(ValueError):
    """A tree head's signature does not check with the given public key."""


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes
    timestamp_ms: int
    signature: bytes

    def signed_bytes(self) -> bytes:
        return head_bytes(self.size, self.root, self.timestamp_ms)

    def to_json(self) -> dict:
        return {"size": self.size, "root": self.root.hex(), "timestamp_ms": self.timestamp_ms,
                "signature": base64.b64encode(self.signature).decode("ascii"),
                "algorithm": "Ed25519", "signed": "archiver-tree-head-v1"}

    @classmethod
    def from_json(cls, data: dict) -> "TreeHead":
        return cls(size=int(data["size"]), root=bytes.fromhex(data["root"]),
                   timestamp_ms=int(data["timestamp_ms"]), signature=base64.b64decode(data["signature"]))


def head_bytes(size: int, root: bytes, timestamp_ms: int) -> bytes:
    if len(root) != 32:
        raise ValueError("a tree root is 32 bytes (SHA-256)")
    return HEAD_CONTEXT + struct.pack(">QQ", size, timestamp_ms) + root


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / KEY_FILE


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    """The archive's key; made on first use. Two processes starting at once agree on one
    (the file is created exclusively; the loser reads the winner's)."""
    path = key_path(data_dir)
    key = load_or_create_private_key(path, Ed25519PrivateKey.generate)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_or_create_private_key(path: Path, generate):
    """The private key in the PEM file `path`, made with `generate()` (mode 0600, created
    exclusively) when there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)          # fails if another process got there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def sign_head(key: Ed25519PrivateKey, size: int, root: bytes, timestamp_ms: int) -> TreeHead:
    return TreeHead(size, root, timestamp_ms, key.sign(head_bytes(size, root, timestamp_ms)))


def verify_head(public: Ed25519PublicKey, head: TreeHead) -> None:
    try:
        public.verify(head.signature, head.signed_bytes())
    except InvalidSignature:
        raise HeadSignatureError(f"the signature of the tree head of size {head.size} does not "
                                 "match the archive's public key: the head was altered or not made by it") from None
