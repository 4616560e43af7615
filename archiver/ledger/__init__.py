"""The evidence log: an append-only Merkle tree of events (RFC 9162 hashing)."""
from archiver.ledger.merkle import (EMPTY_ROOT, ProofError, consistency_proof, inclusion_proof, leaf_hash,
                                    root, verify_consistency, verify_inclusion)

__all__ = ["EMPTY_ROOT", "ProofError", "consistency_proof", "inclusion_proof", "leaf_hash", "root",
           "verify_consistency", "verify_inclusion"]
