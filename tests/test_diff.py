from archiver.diff import diff_texts, paragraphs

OLD = "Headline\n\nFirst paragraph stays.\n\nThe minister said the budget would grow by 3 percent.\n\nA paragraph that goes away entirely."
NEW = "Headline\n\nFirst paragraph stays.\n\nThe minister said the budget would shrink by 3 percent.\n\nBrand new closing words, unrelated to anything before them at all."


def test_unchanged_text_has_no_changes():
    diff = diff_texts(OLD, OLD + "\n\n")
    assert not diff.changed and diff.stats()["equal"] == 4


def test_a_one_word_edit_shows_as_that_word():
    diff = diff_texts(OLD, NEW)
    [replaced] = [b for b in diff.blocks if b.op == "replace"]
    changed = [(s.op, s.text) for s in replaced.segments if s.op != "equal"]
    assert changed == [("delete", "grow"), ("insert", "shrink")]


def test_unrelated_paragraphs_are_a_deletion_and_an_insertion():
    diff = diff_texts(OLD, NEW)
    ops = [b.op for b in diff.blocks]
    assert ops == ["equal", "equal", "replace", "delete", "insert"]
    assert diff.blocks[-1].new.startswith("Brand new")
    assert diff.to_json()["stats"] == {"equal": 2, "insert": 1, "delete": 1, "replace": 1}


def test_added_and_removed_paragraphs():
    assert [b.op for b in diff_texts(None, "One\n\nTwo").blocks] == ["insert", "insert"]
    assert [b.op for b in diff_texts("One\n\nTwo", "").blocks] == ["delete", "delete"]


def test_whitespace_is_normalised_inside_paragraphs():
    assert paragraphs("a  b\n c\n\n\n  d ") == ["a b c", "d"]
