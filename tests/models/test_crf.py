"""The "crf" token tagger on hand-made template sentences: it generalises to unseen names and
places, its marginals are proper distributions that agree with Viterbi, and it leaves no files."""
from __future__ import annotations

import pickle
import random
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from labelwise.models import SMALL_MODELS, make_small_model
from labelwise.models.crf import CRFTagger
from labelwise.store import Store

TEMPLATES = [
    "{P} lives in {L} .", "{P} moved to {L} last year .", "Yesterday {P} flew to {L} .",
    "{P} was born in {L} .", "In {L} , {P} opened a bakery .", "{P} and {P} visited {L} in May .",
    "The mayor of {L} met {P} on Monday .", "{P} said that {L} is beautiful .",
]
TRAIN_PEOPLE = ["Anna Schmidt", "John", "Maria Lopez", "Ahmed", "Li Wei", "Peter Novak", "Sofia", "Tom Baker",
                "Olga Petrova", "Kenji Sato", "Fatima", "Carlos Mendes"]
TRAIN_PLACES = ["Berlin", "Paris", "Tokyo", "New York", "Madrid", "Cairo", "Lima", "Oslo", "Rio de Janeiro",
                "Prague"]
TEST_PEOPLE = ["Helen Park", "Igor", "Nadia Haddad", "Lucas Moreau", "Priya", "Omar Farouk"]  # none seen
TEST_PLACES = ["Vienna", "Nairobi", "Buenos Aires", "Dublin", "Hanoi", "Lisbon"]


def fill(template: str, people: list[str], place: str) -> tuple[list[str], list[str]]:
    """One BIO-tagged sentence from a template, e.g. "Anna Schmidt lives in Berlin ."."""
    toks: list[str] = []
    tags: list[str] = []
    who = iter(people)
    for piece in template.split():
        if piece == "{P}":
            words, kind = next(who).split(), "PER"
        elif piece == "{L}":
            words, kind = place.split(), "LOC"
        else:
            toks.append(piece)
            tags.append("O")
            continue
        toks += words
        tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
    return toks, tags


def dataset(people: list[str], places: list[str], n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    pairs = [fill(TEMPLATES[i % len(TEMPLATES)], rng.sample(people, 2), rng.choice(places)) for i in range(n)]
    return [t for t, _ in pairs], [g for _, g in pairs]


X_TRAIN, Y_TRAIN = dataset(TRAIN_PEOPLE, TRAIN_PLACES, 40, seed=0)
X_TEST, Y_TEST = dataset(TEST_PEOPLE, TEST_PLACES, 24, seed=1)
TAGS = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]


def token_accuracy(pred, gold, entities_only: bool = False) -> float:
    pairs = [(p, g) for P, G in zip(pred, gold) for p, g in zip(P, G) if g != "O" or not entities_only]
    return float(np.mean([p == g for p, g in pairs]))


@pytest.fixture(scope="module")
def crf() -> CRFTagger:
    model = CRFTagger()
    assert model.fit(X_TRAIN, Y_TRAIN) is model
    return model


def test_tags_held_out_sentences_with_unseen_names(crf):
    assert crf.tags_ == TAGS and list(crf.classes_) == TAGS
    pred = crf.predict(X_TEST)
    assert all(isinstance(p, tuple) and len(p) == len(x) for p, x in zip(pred, X_TEST))
    # measured: 0.957 of all tokens, 0.887 of entity tokens (all-O would score 0.62 and 0.0)
    assert token_accuracy(pred, Y_TEST) >= 0.92
    assert token_accuracy(pred, Y_TEST, entities_only=True) >= 0.80
    assert crf.predict([["Helen", "Park", "lives", "in", "Vienna", "."]]) == [
        ("B-PER", "I-PER", "O", "O", "B-LOC", "O")]


def test_marginals_are_distributions_that_agree_with_viterbi(crf):
    marg = crf.token_marginals(X_TEST)
    pred = crf.predict(X_TEST)
    assert len(marg) == len(X_TEST)
    for m, x in zip(marg, X_TEST):
        assert m.shape == (len(x), len(TAGS))
        assert np.all(m >= 0) and np.allclose(m.sum(axis=1), 1.0)
    argmax = [[crf.tags_[j] for j in m.argmax(axis=1)] for m in marg]
    assert token_accuracy(argmax, pred) >= 0.95  # measured 1.0: posterior decoding ~ Viterbi here
    # columns follow tags_: "Vienna" after "lives in" is mostly B-LOC, "lives" mostly O
    m = crf.token_marginals([["Helen", "Park", "lives", "in", "Vienna", "."]])[0]
    assert m[4, TAGS.index("B-LOC")] > 0.5 and m[2, TAGS.index("O")] > 0.9


def test_sequence_logprob_prefers_a_well_formed_sentence(crf):
    easy = ["Helen", "Park", "lives", "in", "Vienna", "."]
    garbled = ["in", "lives", ".", "Park", "Vienna", "Helen"]
    lp = crf.sequence_logprob([easy, garbled, []])
    assert lp.shape == (3,) and np.all(lp <= 0)
    assert lp[0] > lp[1]  # measured -0.19 vs -0.68
    assert lp[2] == 0.0


def test_empty_sentence(crf):
    assert crf.predict([[], ["Igor", "lives", "in", "Hanoi", "."]])[0] == ()
    marg = crf.token_marginals([[]])
    assert marg[0].shape == (0, len(TAGS))


def test_constructor_stores_params_clone_is_unfitted_and_registry(crf, tmp_path):
    assert SMALL_MODELS["crf"] is CRFTagger
    store = Store(tmp_path / "p.db")
    model = make_small_model("crf", store=store, seed=3, c1=0.2)
    assert isinstance(model, CRFTagger) and model.store is store and model.seed == 3 and model.c1 == 0.2
    copy = crf.clone()
    assert type(copy) is CRFTagger and copy.get_params() == crf.get_params()
    assert not [a for a in vars(copy) if a.endswith("_")]
    with pytest.raises(NotFittedError):
        copy.predict([["x"]])


def test_all_o_training_and_a_single_sentence():
    model = CRFTagger().fit([["nothing", "here"], ["nor", "here", "."]], [["O", "O"], ["O", "O", "O"]])
    assert model.tags_ == ["O"]
    assert model.predict([["new", "words"]]) == [("O", "O")]
    assert np.array_equal(model.token_marginals([["a", "b", "c"]])[0], np.ones((3, 1)))
    assert model.sequence_logprob([["a"]]).tolist() == [0.0]

    one = CRFTagger().fit([["Anna", "lives", "in", "Oslo"]], [["B-PER", "O", "O", "B-LOC"]])
    assert one.tags_ == ["B-LOC", "B-PER", "O"]
    assert one.predict([["Anna", "lives", "in", "Oslo"]]) == [("B-PER", "O", "O", "B-LOC")]
    # "O" is a column even when the training set never used it
    no_o = CRFTagger().fit([["Anna", "Oslo"]], [["B-PER", "B-LOC"]])
    m = no_o.token_marginals([["Anna", "Oslo"]])[0]
    assert no_o.tags_ == ["B-LOC", "B-PER", "O"] and np.allclose(m[:, 2], 0) and np.allclose(m.sum(axis=1), 1)


def test_length_mismatch_names_the_sentence():
    with pytest.raises(ValueError, match="sentence 1 has 3 tokens but 2 tags"):
        CRFTagger().fit([["a"], ["b", "c", "d"]], [["O"], ["O", "O"]])
    with pytest.raises(ValueError, match="2 sentences, 1 tag lists"):
        CRFTagger().fit([["a"], ["b"]], [["O"]])
    with pytest.raises(TypeError, match="token lists"):
        CRFTagger().fit(["a plain string"], [["O"]])


def test_training_leaves_no_files_behind(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    made = []
    real = tempfile.TemporaryDirectory

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]
    monkeypatch.setattr(tempfile, "TemporaryDirectory", spy)
    model = CRFTagger(max_iterations=20).fit(X_TRAIN[:8], Y_TRAIN[:8])
    assert model.model_bytes_ and len(made) == 1 and made[0].name.startswith(str(scratch))  # crfsuite wrote there
    assert list(scratch.iterdir()) == []


def test_pickles_without_the_native_tagger(crf):
    crf.predict([["Igor"]])  # opens the native tagger
    again = pickle.loads(pickle.dumps(crf))
    assert again.predict(X_TEST[:5]) == crf.predict(X_TEST[:5])


def test_import_stays_light():
    code = "import sys, labelwise.models.crf; print([m for m in ('torch', 'pycrfsuite') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.real_model
def test_embed_accepts_token_lists(crf, encoder):
    model = CRFTagger(encoder=encoder)
    got = model.embed([["Anna", "lives", "in", "Oslo"]])
    assert np.allclose(got, model.embed(["Anna lives in Oslo"]))


def test_loop_stability_sees_each_sentence_as_one_prediction(crf):
    """The loop's stopping rule compares tag sequences: a sentence counts as changed when any
    of its tags changed, however long it is."""
    from types import SimpleNamespace

    from labelwise.loop_models import TaggerRounds
    from labelwise.strategies import prediction_change
    from labelwise.types import Record

    kind = TaggerRounds(SimpleNamespace(kind="ner", labels=["PER", "LOC"], tokens=lambda r: r.fields["tokens"]))
    records = [Record(id=str(i), fields={"tokens": x}) for i, x in enumerate(X_TEST)]
    now = kind.predictions(crf, records)
    assert list(now) == ["|".join(tags) for tags in crf.predict(X_TEST)]
    one_tag_off = now.copy()
    one_tag_off[3] = now[3].replace("B-PER", "B-LOC", 1)
    assert prediction_change(now, kind.predictions(crf, records)) == 0.0
    assert prediction_change(now, one_tag_off) == pytest.approx(1 / len(X_TEST))
