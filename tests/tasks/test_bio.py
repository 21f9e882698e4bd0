import random
import re

import numpy as np
import pytest

from labelwise.tasks.bio import check_tags, entity_types, spans_to_tags, tags_to_spans

TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-creative-work", "I-creative-work")


# ---- tags_to_spans -------------------------------------------------------------------------

def test_spans_of_plain_bio():
    # Amadou Traoré lives in Bamakɔ .
    assert tags_to_spans(["B-PER", "I-PER", "O", "O", "B-LOC", "O"]) == [(0, 2, "PER"), (4, 5, "LOC")]


def test_entity_at_end_of_sentence_is_closed():
    assert tags_to_spans(["O", "O", "B-LOC", "I-LOC"]) == [(2, 4, "LOC")]
    assert tags_to_spans(["B-LOC"]) == [(0, 1, "LOC")]


def test_i_without_b_starts_an_entity():
    assert tags_to_spans(["O", "I-PER", "I-PER", "O"]) == [(1, 3, "PER")]
    assert tags_to_spans(["I-LOC", "O"]) == [(0, 1, "LOC")]  # at the very start too


def test_i_of_another_type_starts_a_new_entity():
    assert tags_to_spans(["B-PER", "I-LOC", "I-LOC", "I-PER"]) == [(0, 1, "PER"), (1, 3, "LOC"), (3, 4, "PER")]


def test_adjacent_entities_of_one_type_stay_apart():
    assert tags_to_spans(["B-PER", "B-PER", "I-PER", "B-PER"]) == [(0, 1, "PER"), (1, 3, "PER"), (3, 4, "PER")]


def test_iob1_input_decodes_like_conlleval():
    # IOB1: I- by default, B- only between two adjacent entities of one type
    assert tags_to_spans(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC"]) == [
        (0, 2, "PER"), (2, 3, "PER"), (4, 6, "LOC")]


def test_types_may_contain_dashes():
    assert tags_to_spans(["B-creative-work", "I-creative-work", "O"]) == [(0, 2, "creative-work")]


def test_no_entities():
    assert tags_to_spans([]) == []
    assert tags_to_spans(["O", "O", "O"]) == []


@pytest.mark.parametrize("bad", ["E-PER", "S-LOC", "B-", "I-", "BPER", "B_PER", "o", "", "-PER", None, 3])
def test_unknown_prefix_names_the_index(bad):
    with pytest.raises(ValueError, match=rf"tag 2 is {re.escape(repr(bad))}; tags must be"):
        tags_to_spans(["O", "B-PER", bad, "O"])


# ---- spans_to_tags -------------------------------------------------------------------------

def test_spans_to_tags_writes_bio_in_any_span_order():
    spans = [(4, 5, "LOC"), (0, 2, "PER")]
    assert spans_to_tags(6, spans) == ("B-PER", "I-PER", "O", "O", "B-LOC", "O")
    assert spans_to_tags(6, spans[::-1]) == spans_to_tags(6, spans)


def test_adjacent_spans_of_one_type_get_a_new_b():
    assert spans_to_tags(3, [(0, 1, "PER"), (1, 3, "PER")]) == ("B-PER", "B-PER", "I-PER")


def test_no_spans_and_no_tokens():
    assert spans_to_tags(3, []) == ("O", "O", "O")
    assert spans_to_tags(0, []) == ()


def test_numpy_indices_are_accepted():
    assert spans_to_tags(2, [(np.int64(0), np.int64(2), "LOC")]) == ("B-LOC", "I-LOC")


def test_lists_from_json_are_accepted():
    assert spans_to_tags(3, [[1, 3, "LOC"]]) == ("O", "B-LOC", "I-LOC")


@pytest.mark.parametrize("spans, message", [
    ([(0, 2, "PER"), (1, 3, "LOC")], r"spans \(0, 2, 'PER'\) and \(1, 3, 'LOC'\) overlap"),
    ([(2, 4, "LOC"), (0, 3, "PER")], r"spans \(0, 3, 'PER'\) and \(2, 4, 'LOC'\) overlap"),
    ([(1, 2, "PER"), (1, 2, "PER")], r"spans \(1, 2, 'PER'\) and \(1, 2, 'PER'\) overlap"),
    ([(0, 4, "PER"), (1, 2, "LOC")], r"spans \(0, 4, 'PER'\) and \(1, 2, 'LOC'\) overlap"),  # nested
    ([(2, 2, "PER")], r"span \(2, 2, 'PER'\) is empty or outside the 4 tokens"),
    ([(3, 1, "PER")], r"span \(3, 1, 'PER'\) is empty or outside the 4 tokens"),
    ([(3, 5, "PER")], r"span \(3, 5, 'PER'\) is empty or outside the 4 tokens"),
    ([(-1, 1, "PER")], r"span \(-1, 1, 'PER'\) is empty or outside the 4 tokens"),
    ([(0, 1, "")], r"span \(0, 1, ''\) has no entity type"),
    ([(0, 1, None)], r"span \(0, 1, None\) has no entity type"),
    ([(False, True, "PER")], r"start and end must be integer token indices"),
    ([(0.0, 1.0, "PER")], r"start and end must be integer token indices"),
    ([(0, 1)], r"span \(0, 1\) is not \(start, end, type\)"),
    ([5], r"span 5 is not \(start, end, type\)"),
])
def test_bad_spans_are_named(spans, message):
    with pytest.raises(ValueError, match=message):
        spans_to_tags(4, spans)


def _random_spans(rng: random.Random, n: int) -> list[tuple[int, int, str]]:
    spans, i = [], 0
    while i < n:
        if rng.random() < 0.4:
            end = rng.randint(i + 1, min(n, i + 3))
            spans.append((i, end, rng.choice(["PER", "LOC", "creative-work"])))
            i = end
        else:
            i += rng.randint(1, 2)
    return spans


def test_spans_survive_a_round_trip_through_tags():
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(0, 12)
        spans = _random_spans(rng, n)
        tags = spans_to_tags(n, spans[::-1])
        assert len(tags) == n
        assert tags_to_spans(tags) == spans


def test_any_tag_sequence_normalises_to_bio_with_the_same_entities():
    rng = random.Random(11)
    for _ in range(300):
        tags = [rng.choice(TAGS) for _ in range(rng.randint(0, 10))]
        spans = tags_to_spans(tags)
        bio = spans_to_tags(len(tags), spans)
        assert tags_to_spans(bio) == spans
        # in normalised BIO every entity starts with B- and no I- follows O
        for a, b in zip(("O",) + bio, bio):
            assert not (b.startswith("I-") and (a == "O" or a[2:] != b[2:]))


# ---- check_tags and entity_types -----------------------------------------------------------

def test_check_tags_returns_a_tuple():
    tags = ["B-PER", "I-PER", "O", "B-creative-work"]
    assert check_tags(tags, ["PER", "creative-work"]) == tuple(tags)
    assert check_tags([], ["PER"]) == ()


def test_check_tags_names_position_and_tag_outside_the_schema():
    with pytest.raises(ValueError, match=r"tag 2 is 'I-ORG'; its type 'ORG' is not one of: PER, LOC"):
        check_tags(["B-PER", "O", "I-ORG", "B-ORG"], ["PER", "LOC"])


def test_check_tags_rejects_bad_prefixes_and_case():
    with pytest.raises(ValueError, match=r"tag 1 is 'S-PER'"):
        check_tags(["O", "S-PER"], ["PER"])
    with pytest.raises(ValueError, match=r"tag 0 is 'b-PER'"):
        check_tags(["b-PER"], ["PER"])
    with pytest.raises(ValueError, match=r"tag 0 is 'B-per'; its type 'per'"):
        check_tags(["B-per"], ["PER"])


def test_entity_types_counts_b_and_i_tags():
    assert entity_types(["O", "I-LOC", "B-PER", "I-PER", "B-creative-work"]) == {"LOC", "PER", "creative-work"}
    assert entity_types(["O", "O"]) == set()
    with pytest.raises(ValueError, match=r"tag 1 is 'X'"):
        entity_types(["O", "X"])
