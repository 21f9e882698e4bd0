"""The small-model contract, shared by "logreg", "finetuned" and "pair", on the real encoder."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone as sk_clone
from sklearn.exceptions import NotFittedError

from labelwise.errors import ConfigError
from labelwise.models import SMALL_MODELS, FineTunedModel, LogRegModel, PairModel, SmallModel, make_small_model
from labelwise.store import Store

from .conftest import HELD_OUT, LABELS, PAIR_LABELS, PAIRS, TEXTS

SLOW = [pytest.mark.real_model, pytest.mark.slow]
KINDS = [pytest.param("logreg", marks=pytest.mark.real_model), pytest.param("finetuned", marks=SLOW),
         pytest.param("pair", marks=SLOW)]


def build(kind: str, encoder, **kw) -> SmallModel:
    params = {"logreg": {}, "finetuned": {"epochs": 1}, "pair": {"epochs": 1, "positive_label": "paraphrase"}}
    return make_small_model(kind, encoder=encoder, **{**params[kind], **kw})


def data(kind: str) -> tuple[list, list[str]]:
    return (PAIRS, PAIR_LABELS) if kind == "pair" else (TEXTS, LABELS)


@pytest.fixture(scope="module")
def fit(encoder):
    """Fitted models by kind, fitted once per module (fine-tuning is the slow part)."""
    cache: dict[str, SmallModel] = {}

    def get(kind: str) -> SmallModel:
        if kind not in cache:
            model = build(kind, encoder)
            assert model.fit(*data(kind)) is model
            cache[kind] = model
        return cache[kind]
    return get


def test_registry_knows_the_three_models_and_names_them_on_error():
    assert {"logreg", "finetuned", "pair"} <= set(SMALL_MODELS)
    with pytest.raises(ConfigError, match="finetuned, logreg, pair"):
        make_small_model("svm")
    with pytest.raises(ConfigError, match="bogus"):
        make_small_model("logreg", bogus=1)


@pytest.mark.parametrize("cls", [LogRegModel, FineTunedModel, PairModel])
def test_constructor_only_stores_params_and_clone_is_unfitted(cls, tmp_path):
    store = Store(tmp_path / "p.db")
    model = cls(encoder="/no/such/encoder", store=store, seed=7)  # no I/O: a bad path is fine here
    assert isinstance(model, SmallModel)
    for copy in (model.clone(), sk_clone(model)):
        assert type(copy) is cls and copy is not model
        assert copy.get_params() == model.get_params()
        assert copy.store is store  # shared, not deep-copied
        assert not [a for a in vars(copy) if a.endswith("_")]
    assert model.set_params(seed=3).seed == 3
    with pytest.raises(ValueError, match="invalid parameter"):
        model.set_params(nope=1)
    with pytest.raises(NotFittedError):
        model.predict_proba(["x"] if cls is not PairModel else [("x", "y")])


def test_package_import_stays_light():
    code = "import sys, labelwise.models; print([m for m in ('torch', 'sklearn', 'sentence_transformers') " \
           "if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_wrong_input_kind_is_a_clear_error():
    with pytest.raises(TypeError, match="pairs"):
        PairModel().fit(["just a text"], ["yes"])
    with pytest.raises(TypeError, match="strings"):
        LogRegModel().fit([("a", "b")], ["yes"])


@pytest.mark.parametrize("kind", KINDS)
def test_contract(fit, kind):
    model = fit(kind)
    X, _ = data(kind)
    assert list(model.classes_) == sorted(model.classes_) and len(model.classes_) == 2
    proba, base = model.predict_proba(X), model.base_proba(X)
    assert proba.shape == base.shape == (len(X), len(model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(base.sum(axis=1), 1.0, atol=1e-6)
    assert set(model.predict(X)) <= set(model.classes_)
    assert list(model.predict(X[:3])) == list(model.classes_[proba[:3].argmax(axis=1)])
    fresh = model.clone()
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "classes_")


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_under_seed(fit, encoder, kind):
    model = fit(kind)
    X, y = data(kind)
    again = build(kind, encoder).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(again.base_proba(X), model.base_proba(X), atol=1e-6)


@pytest.mark.parametrize("kind", KINDS[:2])
def test_text_models_classify_obvious_held_out_sentences(fit, kind):
    texts, gold = zip(*HELD_OUT)
    assert sum(p == g for p, g in zip(fit(kind).predict(list(texts)), gold)) >= 5


@pytest.mark.real_model
@pytest.mark.slow
def test_pair_fine_tuning_moves_the_score_away_from_base(fit):
    model = fit("pair")
    pos = model.predict_proba(PAIRS)[:, list(model.classes_).index("paraphrase")]
    base = model.base_proba(PAIRS)[:, list(model.classes_).index("paraphrase")]
    assert np.abs(pos - base).mean() > 1e-4
    y = np.array(PAIR_LABELS) == "paraphrase"
    ft, b = model.similarity(PAIRS), model.base_similarity(PAIRS)
    assert ft[y].mean() - ft[~y].mean() > b[y].mean() - b[~y].mean()  # fine-tuning separated the pairs more
    assert model.embed(PAIRS[:3]).shape == (3, 2 * model.embed(["one text"]).shape[1])  # pairs side by side


@pytest.mark.real_model
@pytest.mark.slow
def test_finetuned_base_is_logreg_on_frozen_embeddings(fit, encoder):
    ref = LogRegModel(encoder=encoder).fit(TEXTS, LABELS)
    np.testing.assert_allclose(fit("finetuned").base_proba(TEXTS), ref.predict_proba(TEXTS), atol=1e-9)
    assert not np.allclose(fit("finetuned").predict_proba(TEXTS), ref.predict_proba(TEXTS), atol=1e-4)


@pytest.mark.real_model
@pytest.mark.parametrize("cls", [LogRegModel, FineTunedModel])
def test_single_class_and_tiny_training_sets(cls, encoder):
    model = cls(encoder=encoder).fit(TEXTS[:3:2], ["positive", "positive"])
    assert list(model.classes_) == ["positive"]
    assert model.predict_proba(TEXTS[:4]).tolist() == [[1.0]] * 4
    assert model.base_proba(TEXTS[:4]).shape == (4, 1)
    assert list(model.predict(TEXTS[:2])) == ["positive"] * 2
    if cls is LogRegModel:
        two = cls(encoder=encoder).fit(TEXTS[:2], LABELS[:2])
        assert two.predict_proba(TEXTS[:5]).shape == (5, 2)


@pytest.mark.real_model
def test_pair_labels(encoder):
    with pytest.raises(ConfigError, match="positive_label"):
        PairModel(encoder=encoder).fit(PAIRS[:3], ["a", "b", "c"])
    only_pos = PairModel(positive_label="paraphrase", encoder=encoder).fit(PAIRS[:3:2], ["paraphrase"] * 2)
    assert list(only_pos.classes_) == ["paraphrase"] and only_pos.model_ is None
    named = PairModel(positive_label="paraphrase", negative_label="different", encoder=encoder)
    assert named.fit(PAIRS[:3:2], ["paraphrase"] * 2).predict_proba(PAIRS[:2]).shape == (2, 2)


@pytest.mark.real_model
def test_embeddings_are_cached_in_the_store(tmp_path, encoder):
    with Store(tmp_path / "project.db") as store:
        model = LogRegModel(encoder=encoder, store=store).fit(TEXTS, LABELS)
        before = encoder.texts
        texts = [t for t, _ in HELD_OUT]
        first = model.predict_proba(texts)
        assert encoder.texts == before + len(texts)
        calls = encoder.calls
        np.testing.assert_array_equal(model.predict_proba(texts), first)
        model.base_proba(texts + TEXTS)
        model.clone().fit(TEXTS, LABELS)
        assert encoder.calls == calls  # every vector came from the database
        assert store.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == len(TEXTS) + len(texts)


@pytest.mark.real_model
def test_logreg_base_with_label_texts_is_zero_shot_not_learned_from_the_labels(encoder):
    texts = {"positive": "positive: the reviewer liked it", "negative": "negative: the reviewer did not like it"}
    right = LogRegModel(encoder=encoder, label_texts=texts).fit(TEXTS, LABELS)
    flipped = LogRegModel(encoder=encoder, label_texts=texts).fit(
        TEXTS, ["negative" if l == "positive" else "positive" for l in LABELS])
    held = [t for t, _ in HELD_OUT]
    # the learned model follows the labels; the zero-shot base says the same whatever the labels were
    assert (right.predict(held) != flipped.predict(held)).all()
    np.testing.assert_array_equal(right.base_proba(held).argmax(1), flipped.base_proba(held).argmax(1))
    zero_shot = right.classes_[right.base_proba(held).argmax(1)]
    assert sum(z == g for z, (_, g) in zip(zero_shot, HELD_OUT)) >= len(HELD_OUT) - 1


def test_the_loop_gives_logreg_the_task_labels_as_its_zero_shot_base():
    from types import SimpleNamespace
    from labelwise.loop_models import ClassifierRounds
    task = SimpleNamespace(cfg=SimpleNamespace(labels={"positive": "liked it", "negative": ""}), labels=("positive", "negative"))
    m = ClassifierRounds(task).wrap(LogRegModel())
    assert m.label_texts == {"positive": "positive: liked it", "negative": "negative"}
    assert m.clone().label_texts == m.label_texts
