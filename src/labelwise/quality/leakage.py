"""Leakage probes, pure parts: build the prompts and score the answers (no I/O, no model).

Has the model seen this dataset in pretraining? Two probes give evidence, and a control set
says how much of it is chance:

* *name the source* -- show a sample, ask which public dataset it is from; a hit is an answer
  that names one of the user's dataset names or aliases (case- and punctuation-insensitive);
* *completion* -- show the first half of a sample (by whitespace tokens), ask for the rest
  verbatim; *exact* when the normalised answer starts with the true continuation, *near* when
  the answer's first len(truth) characters are at least 90% similar to it;
* *control* -- the same samples with their tokens shuffled (seeded). Nobody has memorised a
  shuffled text, so control rates are what the probes score by chance (or by guessing a
  dataset from the topic alone). Real rates well above control are the signal.
"""
from __future__ import annotations

import random
import re
import unicodedata
import zlib
from difflib import SequenceMatcher
from typing import Any, Sequence

from ..data.readers import field_text
from ..types import Message, Query, Record
from .classification_metrics import wilson_interval

NEAR_THRESHOLD = 0.9
MAX_TRUTH_WORDS = 32  # the continuation asked for: up to this many words after the prefix
NAME_MAX_TOKENS = 24
_PUNCT = re.compile(r"[^\w\s]|_")


def record_text(record: Record, fields: Sequence[str]) -> str:
    """A record's input as plain text: token lists (NER) joined by spaces, fields by newlines."""
    parts = []
    for f in fields:
        v = record.fields.get(f)
        if v is None:
            continue
        parts.append(field_text(v))
    return "\n".join(parts)


def shuffled(text: str, seed: int, key: str = "") -> str:
    """The same tokens in a seeded random order (per ``key``, so each record gets its own)."""
    tokens = text.split()
    rng = random.Random(seed * 1_000_003 + zlib.crc32(key.encode("utf-8")))
    rng.shuffle(tokens)
    return " ".join(tokens)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def normalize(text: str) -> str:
    """Casefold, NFKC, punctuation dropped, whitespace collapsed: what 'verbatim' compares."""
    return " ".join(_PUNCT.sub("", _fold(text)).split())


# -- (a) name the source dataset ------------------------------------------------------------
def name_query(text: str) -> Query:
    return Query((Message("system", "You are an expert on public machine-learning datasets."),
                  Message("user", f"Here is one sample from a public dataset:\n\n{text}\n\n"
                                  "Which public dataset is this sample from? Answer with the dataset's name only.")),
                 max_tokens=NAME_MAX_TOKENS)


def _forms(text: str) -> tuple[str, str]:
    """Punctuation as a space ('SST-2' -> 'sst 2') and punctuation removed ('sst2')."""
    folded = _fold(text)
    return " ".join(_PUNCT.sub(" ", folded).split()), " ".join(_PUNCT.sub("", folded).split())


def names_dataset(answer: str, names: Sequence[str]) -> bool:
    """True when the answer contains one of ``names`` as whole words, ignoring case and
    punctuation ('sst2', 'SST 2' and 'the SST-2 dataset.' all name 'SST-2')."""
    answer_forms = [f" {f} " for f in _forms(answer)]
    for name in names:
        for nf in _forms(name):
            if nf and any(f" {nf} " in af for af in answer_forms):
                return True
    return False


# -- (b) completion ---------------------------------------------------------------------------
def split_for_completion(text: str, max_truth_words: int = MAX_TRUTH_WORDS) -> tuple[str, str] | None:
    """(first half, the next words up to ``max_truth_words``), or None below 4 tokens, where
    a 'continuation' is too short to tell memory from guessing."""
    tokens = text.split()
    if len(tokens) < 4:
        return None
    half = len(tokens) // 2
    return " ".join(tokens[:half]), " ".join(tokens[half:half + max_truth_words])


def completion_query(prefix: str, truth_words: int) -> Query:
    """Ask for the continuation; room for about three tokens per word of the truth."""
    return Query((Message("system", "You reproduce texts from public datasets exactly, word for word."),
                  Message("user", "Here is the beginning of a text from a public dataset. Continue it exactly as "
                                  "it appears in the dataset. Output only the continuation, nothing else.\n\n"
                                  f"Beginning: {prefix}")),
                 max_tokens=min(256, 3 * truth_words + 8))


def similarity(a: str, b: str) -> float:
    """difflib's ratio 2*M/(len(a)+len(b)): 1.0 identical, 0.0 nothing in common."""
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def score_completion(answer: str, truth: str, prefix: str = "",
                     near_threshold: float = NEAR_THRESHOLD) -> dict[str, Any]:
    """Exact / near-exact match of an answer against the true continuation.

    A leading echo of the prefix is dropped first (small models often repeat the prompt).
    The answer is cut to the truth's length before the similarity, so a right continuation
    that goes on past the sample is not punished for running long."""
    t, a, p = normalize(truth), normalize(answer), normalize(prefix)
    if p and a.startswith(p):
        a = a[len(p):].lstrip()
    if not t:
        return {"exact": False, "near": False, "similarity": 0.0}
    exact = a.startswith(t)
    sim = 1.0 if exact else similarity(a[:len(t)], t)
    return {"exact": exact, "near": exact or sim >= near_threshold, "similarity": round(sim, 4)}


# -- the probe plan -----------------------------------------------------------------------------
def build_probes(records: Sequence[Record], fields: Sequence[str], seed: int = 0) -> list[dict[str, Any]]:
    """Every probe to send, real and control, as plain dicts with the query and what to score
    against. Records too short for completion still get the name probe."""
    probes: list[dict[str, Any]] = []
    for r in records:
        text = record_text(r, fields)
        for which, t in (("real", text), ("control", shuffled(text, seed, r.id))):
            probes.append({"set": which, "probe": "name", "record_id": r.id, "query": name_query(t)})
            split = split_for_completion(t)
            if split:
                prefix, truth = split
                probes.append({"set": which, "probe": "completion", "record_id": r.id, "prefix": prefix,
                               "truth": truth, "query": completion_query(prefix, len(truth.split()))})
    return probes


# -- rates ------------------------------------------------------------------------------------
def rate(hits: int, n: int) -> dict[str, Any]:
    """A hit rate with its 95% Wilson interval (None when nothing was scored)."""
    lo, hi = wilson_interval(hits, n)
    return {"hits": hits, "n": n, "rate": hits / n if n else None, "ci95": [lo, hi]}


def reading(real: dict[str, Any], control: dict[str, Any]) -> str:
    """A plain verdict: is the real rate above the control beyond the intervals' overlap?"""
    if not real["n"] or not control["n"]:
        return "not scored"
    if real["ci95"][0] > control["ci95"][1]:
        return "above control: evidence of leakage"
    if real["rate"] > control["rate"]:
        return "above control, within noise"
    return "no evidence"
