"""RFC 9162 Merkle trees: roots against the recursive definition, every inclusion and
consistency proof verified, and any change to a leaf, a proof, a size or a root refused."""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings, strategies as st

from archiver.ledger import (EMPTY_ROOT, ProofError, consistency_proof, inclusion_proof, leaf_hash, root,
                             verify_consistency, verify_inclusion)


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 section 2.1.1 writes it."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


def tree(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_leaf_and_node_hashes_have_different_prefixes():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    a, b = tree(2)
    assert root([a, b]) == hashlib.sha256(b"\x01" + a + b).digest()


@pytest.mark.parametrize("n", list(range(0, 70)) + [127, 128, 129, 1000])
def test_root_matches_the_rfc_definition(n):
    assert root(tree(n)) == reference_root(tree(n))


@pytest.mark.parametrize("n", list(range(1, 34)) + [100])
def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not(n):
    leaves = tree(n)
    head = root(leaves)
    for i in range(n):
        proof = inclusion_proof(i, leaves)
        verify_inclusion(i, n, leaves[i], proof, head)
        with pytest.raises(ProofError):
            verify_inclusion(i, n, leaf_hash(b"forged"), proof, head)
        if n > 1:
            with pytest.raises(ProofError):
                verify_inclusion((i + 1) % n, n, leaves[i], proof, head)


@pytest.mark.parametrize("n", list(range(1, 34)) + [100])
def test_every_consistency_proof_verifies(n):
    leaves = tree(n)
    for m in range(0, n + 1):
        verify_consistency(m, n, root(leaves[:m]), root(leaves), consistency_proof(m, leaves))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.data())
def test_a_rewritten_history_is_detected(n, data):
    leaves = tree(n)
    m = data.draw(st.integers(1, n))
    old_root = root(leaves[:m])
    victim = data.draw(st.integers(0, m - 1))
    changed = list(leaves)
    changed[victim] = leaf_hash(b"edited")
    with pytest.raises(ProofError):
        verify_consistency(m, n, old_root, root(changed), consistency_proof(m, changed))
    if m < n:
        proof = consistency_proof(m, leaves)
        if proof:
            bad = list(proof)
            spot = data.draw(st.integers(0, len(bad) - 1))
            bad[spot] = hashlib.sha256(bad[spot]).digest()
            with pytest.raises(ProofError):
                verify_consistency(m, n, old_root, root(leaves), bad)


def test_reordered_or_removed_entries_break_consistency():
    leaves = tree(20)
    old = root(leaves[:10])
    swapped = leaves[:3] + [leaves[4], leaves[3]] + leaves[5:]
    removed = leaves[:5] + leaves[6:]
    for rewritten in (swapped, removed):
        with pytest.raises(ProofError):
            verify_consistency(10, len(rewritten), old, root(rewritten), consistency_proof(10, rewritten))


def test_bad_sizes_are_refused():
    leaves = tree(8)
    with pytest.raises(ProofError):
        verify_inclusion(8, 8, leaves[0], inclusion_proof(0, leaves), root(leaves))
    with pytest.raises(ProofError):
        verify_inclusion(0, 9, leaves[0], inclusion_proof(0, leaves), root(leaves))
    with pytest.raises(ProofError):
        verify_consistency(9, 8, root(leaves), root(leaves), [])
    with pytest.raises(ProofError):
        verify_consistency(8, 8, root(leaves), root(tree(7) + [leaf_hash(b"x")]), [])
