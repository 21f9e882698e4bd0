"""BM25 candidates per query: ``rank_bm25``'s Okapi BM25 over analyzed word tokens.

The analyzer lower-cases, splits on word characters, and (``analyzer="english"``, the default)
drops common English function words and reduces words to their Snowball (Porter 2) stems, so
"flows" finds "flow" and "boundary" finds "boundaries" (``bench/bench_bm25.py`` measures both
analyzers on Cranfield and CISI). ``analyzer="plain"`` keeps every lower-cased word as it is,
for other languages or when the stemmer (``snowballstemmer``, in the ``search`` extra) is missing."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Mapping

_WORD = re.compile(r"\w+")
ANALYZERS = ("english", "plain")

# Function words only (articles, pronouns, auxiliaries, prepositions, conjunctions): words that
# carry topic ("flow", "system", "method") stay in, however frequent.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not of off on once only or other our ours ourselves out over own same she should so
some such than that the their theirs them themselves then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your
yours yourself yourselves
""".split())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, nothing removed (the plain analyzer)."""
    return _WORD.findall(text.lower())


@lru_cache(maxsize=4)
def analyzer(name: str = "english") -> Callable[[str], list[str]]:
    """The tokenizer BM25 indexes and queries with."""
    if name == "plain":
        return tokens
    if name != "english":
        raise ValueError(f"unknown BM25 analyzer {name!r}: use one of {', '.join(ANALYZERS)}")
    try:
        import snowballstemmer
    except ImportError:
        from ..errors import LabelwiseError
        raise LabelwiseError("the english BM25 analyzer stems with snowballstemmer: pip install "
                             "'labelwise[search]' (or use the plain analyzer)") from None
    stem = snowballstemmer.stemmer("english").stemWord
    memo: dict[str, str] = {}

    def english(text: str) -> list[str]:
        out = []
        for w in _WORD.findall(text.lower()):
            if w in STOPWORDS:
                continue
            s = memo.get(w)
            if s is None:
                s = memo[w] = stem(w)
            out.append(s)
        return out

    return english


def bm25_candidates(corpus: Mapping[str, str], queries: Mapping[str, str], k: int,
                    analyzer_name: str = "english") -> dict[str, list[tuple[str, float]]]:
    """query id -> its top ``k`` documents by BM25, best first (ties by document id)."""
    from rank_bm25 import BM25Okapi
    analyze = analyzer(analyzer_name)
    ids = list(corpus)
    bm = BM25Okapi([analyze(corpus[d]) or [""] for d in ids])
    out = {}
    for q, text in queries.items():
        scores = bm.get_scores(analyze(text))
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
        out[q] = [(ids[i], float(scores[i])) for i in order]
    return out


def ranking_from(cands: Mapping[str, list[tuple[str, float]]]) -> dict[str, dict[str, float]]:
    return {q: {d: s for d, s in docs} for q, docs in cands.items()}
