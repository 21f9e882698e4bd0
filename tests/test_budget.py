import threading

import pytest

from labelwise.cost import Budget, load_prices
from labelwise.errors import BudgetExhausted
from labelwise.store import Store
from labelwise.types import Response, Usage


def test_reserve_settle_release_and_spent_means_settled(tmp_path):
    store = Store(tmp_path / "p.db")
    b = Budget(money=1.0, requests=3, tokens=1000, store=store)
    r = b.reserve(0.5, 400, requests=1)
    assert b.state()["spent"]["money"] == 0 and b.state()["reserved"]["money"] == pytest.approx(0.5)
    store.record_call("k1", {}, {}, Response(usage=Usage(60, 40)), "fake/x", 0.1, reservation=r)
    assert b.state()["spent"] == {"money": pytest.approx(0.1), "requests": 1, "items": 0, "tokens": 100}
    assert b.state()["reserved"]["money"] == 0
    r2 = b.reserve(0.2, 200, requests=1)
    b.release(r2)
    assert b.state()["spent"]["requests"] == 1 and b.state()["reserved"]["requests"] == 0
    with pytest.raises(BudgetExhausted, match=r"tokens reached: 100 tokens spent of 1000 tokens"):
        b.reserve(0.0, 901)


def test_never_exceeded_by_concurrent_connections_to_one_database(tmp_path):
    """Eight connections (as eight processes would have) reserve from one budget in one file."""
    Store(tmp_path / "p.db").close()
    granted = []
    lock = threading.Lock()

    def worker():
        b = Budget(requests=50, store=Store(tmp_path / "p.db"))
        for _ in range(40):
            try:
                b.reserve(0.0, 1, requests=1)
            except BudgetExhausted:
                return
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 50
    assert Budget(store=Store(tmp_path / "p.db")).state()["reserved"]["requests"] == 50


def test_overspent_says_by_how_much(tmp_path):
    store = Store(tmp_path / "p.db")
    b = Budget(money=5.0, store=store)
    assert b.overspent() is None
    r = b.reserve(4.0, 10, requests=1)
    store.record_call("k", {}, {}, Response(usage=Usage(10, 0)), "openai/x", 6.0, reservation=r)
    assert "budget.money exceeded by $1.0000: $6.0000 spent of $5.0000" in b.overspent()


def test_calls_is_the_old_name_of_requests():
    assert Budget(calls=3).limit["requests"] == 3


def test_prices_local_free_and_hosted_priced(tmp_path):
    table = load_prices()
    assert table.price("llamacpp", "anything").cost(Usage(10_000, 10_000)) == 0.0
    assert table.price("openai", "gpt-4o-mini").cost(Usage(1_000_000, 0)) == pytest.approx(0.15)
    assert table.price("openai", "my-vllm-model") is None
    extra = tmp_path / "p.yaml"
    extra.write_text("- match: 'openai/my-*'\n  input_per_mtok: 1\n  output_per_mtok: 2\n")
    assert load_prices(extra).price("openai", "my-vllm-model").cost(Usage(1e6, 1e6)) == pytest.approx(3.0)
