import random
from collections import Counter
from fractions import Fraction as F

import pytest

from labelwise.quality.ner_metrics import ner_report, token_accuracy

# Three sentences with every decoding subtlety; the numbers below are worked out by hand.
#   0  Amadou Traoré  taa   Bamakɔ     gold PER(0,2) LOC(3,4)   pred PER(0,2) ORG(3,4)
#   1  Awa   Awa      ,                gold PER(0,1) PER(1,2)   pred PER(0,2)       (B-PER B-PER vs one entity)
#   2  eGoli eThekwini KwaZulu-Natal   gold LOC(1,3) (I- without B-, at the end)  pred LOC(1,3)
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "B-PER", "O"], ["O", "I-LOC", "I-LOC"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-PER", "I-PER", "O"], ["O", "B-LOC", "I-LOC"]]


def close(a: float, b: F) -> bool:
    return a == pytest.approx(float(b), abs=1e-12)


def test_hand_computed_report():
    r = ner_report(GOLD, PRED)
    assert (r["n_sentences"], r["n_tokens"], r["n_gold_entities"], r["n_pred_entities"], r["tp"]) == (3, 10, 5, 4, 2)
    per = r["per_type"]
    assert list(per) == ["LOC", "ORG", "PER"]  # without `types`: the types seen, sorted
    # PER: gold 3, pred 2, tp 1 (sentence 0 only; sentence 1's merged entity matches neither gold one)
    assert (per["PER"]["support"], per["PER"]["n_pred"], per["PER"]["tp"]) == (3, 2, 1)
    assert close(per["PER"]["precision"], F(1, 2)) and close(per["PER"]["recall"], F(1, 3))
    assert close(per["PER"]["f1"], F(2, 5))
    # LOC: gold 2, pred 1, tp 1 (I-LOC I-LOC and B-LOC I-LOC are the same entity)
    assert (per["LOC"]["precision"], per["LOC"]["recall"]) == (1.0, 0.5) and close(per["LOC"]["f1"], F(2, 3))
    # ORG: predicted once, never in gold: 0/1 precision, 0/0 recall -> 0.0
    assert per["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "n_pred": 1, "tp": 0}
    assert close(r["micro"]["precision"], F(2, 4)) and close(r["micro"]["recall"], F(2, 5))
    assert close(r["micro"]["f1"], F(4, 9)) and r["micro_f1"] == r["micro"]["f1"]
    assert close(r["macro"]["precision"], (1 + 0 + F(1, 2)) / 3)
    assert close(r["macro"]["recall"], (F(1, 2) + 0 + F(1, 3)) / 3)
    assert close(r["macro"]["f1"], (F(2, 3) + 0 + F(2, 5)) / 3) and r["macro_f1"] == r["macro"]["f1"]
    # tokens: 3/4 (B-ORG), 2/3 (I-PER for B-PER), 2/3 (B-LOC for I-LOC) -> 7/10
    assert close(r["token_accuracy"], F(7, 10))


def test_types_fix_the_rows_and_the_macro_average():
    r = ner_report(GOLD, PRED, types=["PER", "LOC", "ORG", "MISC"])
    assert list(r["per_type"]) == ["PER", "LOC", "ORG", "MISC"]
    assert r["per_type"]["MISC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "n_pred": 0, "tp": 0}
    assert close(r["macro"]["precision"], (F(1, 2) + 1 + 0 + 0) / 4)
    assert close(r["macro"]["f1"], (F(2, 5) + F(2, 3)) / 4)
    assert close(r["micro"]["f1"], F(4, 9))  # micro does not depend on the rows listed


def test_a_tag_outside_types_is_an_error_not_dropped():
    with pytest.raises(ValueError, match=r"sentence 0, predicted: tag 3 is 'B-ORG'; its type 'ORG' is not one of"):
        ner_report(GOLD, PRED, types=["PER", "LOC"])


def test_malformed_tag_names_sentence_and_position():
    with pytest.raises(ValueError, match=r"sentence 1, gold: tag 0 is 'S-PER'"):
        ner_report([["O"], ["S-PER"]], [["O"], ["O"]])


def test_seqeval_readme_example():
    # seqeval's README: f1_score == 0.50; MISC 0/0/0, PER 1/1/1; micro and macro avg 0.50
    y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    r = ner_report(y_true, y_pred)
    assert r["micro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert r["macro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert r["per_type"]["MISC"]["f1"] == 0.0 and r["per_type"]["PER"]["f1"] == 1.0


def test_adjacent_same_type_entities_must_be_split_to_count():
    gold = [["B-PER", "B-PER"]]
    assert ner_report(gold, [["B-PER", "B-PER"]])["tp"] == 2
    merged = ner_report(gold, [["B-PER", "I-PER"]])
    assert (merged["tp"], merged["n_pred_entities"], merged["n_gold_entities"]) == (0, 1, 2)


def test_wrong_boundary_or_type_gets_no_credit():
    gold = [["B-LOC", "I-LOC", "I-LOC", "O"]]
    for pred in (["B-LOC", "I-LOC", "O", "O"],      # too short
                 ["B-LOC", "I-LOC", "I-LOC", "I-LOC"],  # too long
                 ["O", "B-LOC", "I-LOC", "O"],      # shifted
                 ["B-PER", "I-PER", "I-PER", "O"]):  # right span, wrong type
        r = ner_report(gold, [pred])
        assert (r["tp"], r["micro_f1"]) == (0, 0.0), pred


def test_entity_at_sentence_end_does_not_run_into_the_next_sentence():
    gold = [["O", "B-PER"], ["I-PER", "O"]]  # two entities: a sentence boundary closes the first
    r = ner_report(gold, [["O", "B-PER"], ["B-PER", "O"]])
    assert (r["n_gold_entities"], r["tp"]) == (2, 2)  # I-PER after the boundary = B-PER at entity level
    assert r["token_accuracy"] == 0.75  # ... but not at token level


def test_perfect_and_empty_predictions():
    perfect = ner_report(GOLD, GOLD)
    assert perfect["micro"] == perfect["macro"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert perfect["token_accuracy"] == 1.0
    none = ner_report(GOLD, [["O"] * len(s) for s in GOLD])
    assert none["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}  # 0/0 precision -> 0.0
    assert none["n_pred_entities"] == 0 and close(none["token_accuracy"], F(3, 10))  # the three O tokens


def test_no_entities_anywhere_scores_zero_not_nan():
    r = ner_report([["O", "O"]], [["O", "O"]])
    assert r["micro"] == r["macro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert r["per_type"] == {} and r["token_accuracy"] == 1.0
    empty = ner_report([], [])
    assert (empty["n_sentences"], empty["n_tokens"], empty["token_accuracy"], empty["macro_f1"]) == (0, 0, 0.0, 0.0)


def test_length_mismatch_names_the_sentence():
    with pytest.raises(ValueError, match=r"sentence 2: 3 gold tags but 2 predicted tags"):
        ner_report(GOLD, PRED[:2] + [["O", "B-LOC"]])
    with pytest.raises(ValueError, match=r"sentence 2: 3 gold tags but 4 predicted tags"):
        token_accuracy(GOLD, PRED[:2] + [["O", "B-LOC", "I-LOC", "O"]])
    with pytest.raises(ValueError, match=r"3 gold sentences but 2 predicted sentences"):
        ner_report(GOLD, PRED[:2])


def test_flat_tag_list_is_refused():
    with pytest.raises(ValueError, match=r"sentence 0 is a string; pass one list of tags per sentence"):
        ner_report(["O", "B-PER"], ["O", "B-PER"])


def test_token_accuracy_on_its_own():
    assert close(token_accuracy(GOLD, PRED), F(7, 10))
    assert token_accuracy([["B-PER"]], [["I-PER"]]) == 0.0  # exact tag match, not entity match
    assert token_accuracy([[]], [[]]) == 0.0


# ---- cross-check against conlleval ---------------------------------------------------------
# A line-by-line port of the counting in conlleval.pl (CoNLL-2000 shared task script): it never
# builds spans, it walks tokens and decides chunk starts and ends from (previous tag, tag).


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    return ((prev_tag, tag) in {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O")}
            or (prev_tag not in ("O", ".") and prev_type != type_))


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    return ((prev_tag, tag) in {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I")}
            or (tag not in ("O", ".") and prev_type != type_))


def _split(tag: str) -> tuple[str, str]:
    head, _, type_ = tag.partition("-")
    return head, type_


def conlleval_counts(gold, pred):
    correct_chunk, found_correct, found_guessed = Counter(), Counter(), Counter()
    correct_tags = tokens = 0
    in_correct = False
    last_c, last_ct, last_g, last_gt = "O", "", "O", ""
    lines = []
    for g, p in zip(gold, pred):
        lines += [(a, b, True) for a, b in zip(g, p)] + [("O", "O", False)]  # boundary line = O O
    for c_tag, g_tag, is_token in lines:
        c, ct = _split(c_tag)
        g, gt = _split(g_tag)
        if in_correct:
            end_c, end_g = _end_of_chunk(last_c, c, last_ct, ct), _end_of_chunk(last_g, g, last_gt, gt)
            if end_c and end_g and last_gt == last_ct:
                in_correct = False
                correct_chunk[last_ct] += 1
            elif end_c != end_g or gt != ct:
                in_correct = False
        start_c, start_g = _start_of_chunk(last_c, c, last_ct, ct), _start_of_chunk(last_g, g, last_gt, gt)
        if start_c and start_g and gt == ct:
            in_correct = True
        if start_c:
            found_correct[ct] += 1
        if start_g:
            found_guessed[gt] += 1
        if is_token:
            correct_tags += c == g and ct == gt
            tokens += 1
        last_c, last_ct, last_g, last_gt = c, ct, g, gt
    if in_correct:
        correct_chunk[last_ct] += 1
    return correct_chunk, found_correct, found_guessed, correct_tags, tokens


def assert_agrees_with_conlleval(gold, pred):
    correct_chunk, found_correct, found_guessed, correct_tags, tokens = conlleval_counts(gold, pred)
    r = ner_report(gold, pred)
    assert (r["tp"], r["n_gold_entities"], r["n_pred_entities"]) == (
        sum(correct_chunk.values()), sum(found_correct.values()), sum(found_guessed.values()))
    for t, row in r["per_type"].items():
        assert (row["tp"], row["support"], row["n_pred"]) == (correct_chunk[t], found_correct[t], found_guessed[t])
    assert set(r["per_type"]) == {t for t in (found_correct | found_guessed)}
    assert r["token_accuracy"] == (correct_tags / tokens if tokens else 0.0)
    p = sum(correct_chunk.values()) / sum(found_guessed.values()) if found_guessed else 0.0
    rc = sum(correct_chunk.values()) / sum(found_correct.values()) if found_correct else 0.0
    assert r["micro_f1"] == pytest.approx(2 * p * rc / (p + rc) if p + rc else 0.0)


def test_hand_made_case_agrees_with_conlleval():
    # the conlleval walk over GOLD/PRED: chunks found in gold 5, guessed 4, correct 2, tags 7 of 10
    assert conlleval_counts(GOLD, PRED)[0] == Counter({"PER": 1, "LOC": 1})
    assert_agrees_with_conlleval(GOLD, PRED)


def test_random_tag_sequences_agree_with_conlleval():
    rng = random.Random(2003)
    tags = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    for _ in range(400):
        n_sent = rng.randint(1, 4)
        lengths = [rng.randint(0, 7) for _ in range(n_sent)]
        gold = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        # predictions near the gold (mostly right, some edits) and fully random ones
        pred = [[t if rng.random() < 0.7 else rng.choice(tags) for t in s] for s in gold]
        assert_agrees_with_conlleval(gold, pred)
        assert_agrees_with_conlleval(gold, [[rng.choice(tags) for _ in s] for s in gold])


def test_auroc_counts_pairs_ranked_right_with_ties_as_half():
    from labelwise.quality.ner_metrics import auroc
    # positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5) (0.9>0.1) (0.5=0.5 -> half) (0.5>0.1) = 3.5/4
    assert auroc([0.9, 0.5, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.875)
    assert auroc([0.1, 0.9], [True, False]) == 0.0
    assert auroc([0.3, 0.4], [True, True]) is None


def test_token_confidence_report_separates_right_from_wrong_tokens():
    from labelwise.quality.ner_metrics import token_confidence_report
    gold = [["B-PER", "O", "O"], ["B-LOC", "O"]]
    pred = [["B-PER", "O", "B-LOC"], ["O", "O"]]  # two wrong tokens, both with the lowest confidence
    conf = [[0.9, 0.8, 0.2], [0.3, 0.95]]
    r = token_confidence_report(gold, pred, conf)
    assert r["n_tokens"] == 5 and r["auroc"] == 1.0 and r["token_accuracy"] == pytest.approx(0.6)
    assert r["mean_confidence"] == pytest.approx(0.63)
    # inside predicted entities: B-PER right (0.9), B-LOC wrong (0.2) -> still perfectly ranked
    assert r["auroc_entities"] == 1.0
    r2 = token_confidence_report([["B-PER", "O"], ["O", "O"]], [["B-PER", "O"], ["B-LOC", "O"]],
                                 [[0.3, 0.9], [0.6, 0.9]])  # the wrong mention is the surer one
    assert r2["auroc"] == pytest.approx(2 / 3) and r2["auroc_entities"] == 0.0
    with pytest.raises(ValueError, match="2 confidences for a sentence of 3 tokens"):
        token_confidence_report(gold[:1], pred[:1], [[0.1, 0.2]])
