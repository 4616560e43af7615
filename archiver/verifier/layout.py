"""Where things are in an evidence bundle (a WACZ with the log's evidence beside the records).

Every path is one folder deep, as py-wacz's validator expects (docs/export.md).
"""
ENTRIES = "log/entries.jsonl"        # each line: exactly the bytes an entry's leaf hash covers
PROOFS = "log/proofs.json"           # {"head": ..., "entries": [{"position", "leaf_hash", "proof"}]}
HEAD = "log/head.json"               # the signed tree head the proofs lead to
PUBLIC_KEY = "log/public-key.pem"    # the archive's Ed25519 key (SubjectPublicKeyInfo PEM)
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
ARCHIVE_PREFIX = "archive/"
