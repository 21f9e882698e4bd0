import threading

import pytest

from labelwise.cost import Budget, load_prices
from labelwise.errors import BudgetExhausted
from labelwise.types import Usage


def test_reserve_settle_release():
    b = Budget(money=1.0, calls=3, tokens=1000)
    r = b.reserve(0.5, 400)
    b.settle(r, 0.1, 100)
    assert b.used == {"money": pytest.approx(0.1), "calls": 1, "tokens": 100}
    r2 = b.reserve(0.2, 200)
    b.release(r2)
    assert b.used["calls"] == 1
    with pytest.raises(BudgetExhausted, match="tokens"):
        b.reserve(0.0, 901)


def test_never_exceeded_under_concurrency():
    b = Budget(calls=50)
    granted = []
    lock = threading.Lock()

    def worker():
        for _ in range(40):
            try:
                b.reserve(0.0, 1)
            except BudgetExhausted:
                return
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 50 and b.used["calls"] == 50


def test_prices_local_free_and_hosted_priced(tmp_path):
    table = load_prices()
    assert table.price("llamacpp", "anything").cost(Usage(10_000, 10_000)) == 0.0
    assert table.price("openai", "gpt-4o-mini").cost(Usage(1_000_000, 0)) == pytest.approx(0.15)
    assert table.price("openai", "my-vllm-model") is None
    extra = tmp_path / "p.yaml"
    extra.write_text("- match: 'openai/my-*'\n  input_per_mtok: 1\n  output_per_mtok: 2\n")
    assert load_prices(extra).price("openai", "my-vllm-model").cost(Usage(1e6, 1e6)) == pytest.approx(3.0)
