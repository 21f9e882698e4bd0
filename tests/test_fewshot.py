"""Few-shot example selection: fixed, random and nearest-neighbour (real MiniLM encoder)."""
import pytest

from labelwise.fewshot import FewShot, balanced_pick
from labelwise.store import Store
from labelwise.types import Record

POOL = [Record("p1", {"text": "The pasta was delicious and fresh."}, gold="positive"),
        Record("p2", {"text": "Friendly staff and a lovely terrace."}, gold="positive"),
        Record("p3", {"text": "Best pizza in town, crispy crust."}, gold="positive"),
        Record("n1", {"text": "The pasta was soggy and cold."}, gold="negative"),
        Record("n2", {"text": "Rude staff, we waited an hour."}, gold="negative"),
        Record("n3", {"text": "The pizza crust was burnt."}, gold="negative")]


def test_balanced_pick_round_robins_over_labels():
    assert balanced_pick([0, 1, 2, 3], ["a", "a", "a", "b"], 3) == [0, 3, 1]


def test_fixed_is_the_same_for_every_record_and_balanced():
    fs = FewShot("fixed", POOL, ("text",), k=2)
    a, b = fs.for_record(Record("x", {"text": "x"})), fs.for_record(Record("y", {"text": "y"}))
    assert a == b and {r.gold for r in a} == {"positive", "negative"}


def test_random_is_seeded_per_record_and_never_the_record_itself():
    fs = FewShot("random", POOL, ("text",), k=3, balanced=False, seed=3)
    picked = fs.for_record(POOL[0])
    assert picked == FewShot("random", POOL, ("text",), k=3, balanced=False, seed=3).for_record(POOL[0])
    assert POOL[0] not in picked and len(picked) == 3


@pytest.mark.real_model
def test_nearest_picks_the_most_similar_examples_and_caches_embeddings(tmp_path):
    store = Store(tmp_path / "p.db")
    fs = FewShot("nearest", POOL, ("text",), k=2, balanced=False, store=store)
    picked = fs.for_record(Record("q", {"text": "Their pasta was soggy, cold and tasteless."}))
    assert picked[-1].id == "n1"  # the nearest comes last, right before the question
    assert "p1" in {r.id for r in picked}  # the other pasta sentence
    assert store.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == len(POOL) + 1
    # the item itself (same text) is never its own example
    assert POOL[3] not in fs.for_record(Record("n1-copy", {"text": POOL[3].fields["text"]}))
    balanced = FewShot("nearest", POOL, ("text",), k=2, balanced=True, store=store)
    assert {r.gold for r in balanced.for_record(Record("q", {"text": "soggy pasta"}))} == {"positive", "negative"}


def test_shared_first_orders_by_centrality_in_the_pool_alone(tmp_path):
    import numpy as np
    store = Store(tmp_path / "p.db")
    near = FewShot("nearest", POOL, ("text",), k=2, balanced=False, store=store)
    shared = FewShot("nearest", POOL, ("text",), k=2, balanced=False, store=store, order="shared_first")
    rank = shared.centrality_rank()
    # by hand: how often each example is among the 2 nearest of the other five
    v = shared.vectors()
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    hits = np.bincount(np.argsort(-sims, axis=1)[:, :2].ravel(), minlength=len(POOL))
    assert [POOL[i].id for i in np.argsort(rank)] == [POOL[i].id for i in np.lexsort((np.arange(6), -hits))]
    for text in ("Their pasta was soggy, cold and tasteless.", "A lovely pizza terrace", "we waited, rude"):
        a, b = near.for_record(Record("q", {"text": text})), shared.for_record(Record("q", {"text": text}))
        assert {r.id for r in a} == {r.id for r in b}  # the same examples, in another order
        assert [rank[POOL.index(r)] for r in b] == sorted(rank[POOL.index(r)] for r in b)
    with pytest.raises(ValueError, match="unknown example order"):
        FewShot("nearest", POOL, ("text",), order="sideways")


def test_spherical_kmeans_finds_separated_directions_and_is_seeded():
    import numpy as np

    from labelwise.fewshot import spherical_kmeans
    rng = np.random.default_rng(0)
    axes = np.eye(8)[:3]
    v = np.concatenate([a + 0.05 * rng.standard_normal((20, 8)) for a in axes])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    c = spherical_kmeans(v, 3, seed=1)
    assert np.allclose(np.linalg.norm(c, axis=1), 1, atol=1e-5)
    # each true direction has one centre close to it, and each point's centre is its direction's
    assert sorted(int(np.argmax(c @ a)) for a in axes) == [0, 1, 2]
    assign = np.argmax(v @ c.T, axis=1)
    assert all(len(set(assign[i * 20:(i + 1) * 20])) == 1 for i in range(3))
    assert np.array_equal(c, spherical_kmeans(v, 3, seed=1))


def test_clustered_nearest_gives_a_cluster_one_example_list_from_the_pool_alone(tmp_path):
    import numpy as np
    store = Store(tmp_path / "p.db")
    fs = FewShot("nearest", POOL, ("text",), k=2, balanced=False, store=store, clusters=2)
    c, v = fs.centres(), fs.vectors()
    items = [Record(f"q{i}", {"text": t}) for i, t in enumerate((
        "Their pasta was soggy, cold and tasteless.", "A lovely pizza terrace", "we waited, rude",
        "Crispy crust, lovely staff", "Burnt and cold"))]
    q = fs._encoder.encode([r.fields["text"] for r in items])
    cluster = np.argmax(q @ c.T, axis=1)
    got = [fs.for_record(r) for r in items]
    for ci_ in set(cluster.tolist()):
        lists = [[e.id for e in g] for g, k in zip(got, cluster) if k == ci_]
        assert all(x == lists[0] for x in lists)  # one cluster, one list of examples
        want = [POOL[i].id for i in np.argsort(-(v @ c[ci_]), kind="stable")[:2]][::-1]
        assert lists[0] == want  # the examples nearest the centre, the nearest last
    # an item that is one of the examples never gets itself
    assert POOL[0] not in fs.for_record(POOL[0])
    from labelwise.config import FewShotConfig
    with pytest.raises(ValueError, match="clusters applies to mode nearest"):
        FewShotConfig(mode="fixed", clusters=4)
