"""Query-document relevance: a grade from 0 to 3 for each (query, document) pair.

The grades are the labels, scored in one pass from the four grade tokens' log-probabilities;
the stored distribution over grades gives the pair's score, the expected grade, which ranks a
query's documents. Records are pairs (``text_field``: the query, ``text_pair_field``: the
document); pairs with the same query text belong to one query, so ranking metrics need no
extra column. Metrics: agreement of grades with human judgements (accuracy, quadratic-weighted
Cohen's kappa) and the ranking by expected grade (nDCG@10, MRR@10, Recall@100, MAP; see
``search.metrics``).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..types import Labeled, Record
from .base import register_task
from .classification import PairClassification
from .kinds import Starter, TaskKind, register_kind

# The grading scale, in our own words (after the TREC deep-learning scale that UMBRELA prompts with).
GRADES = {
    "3": "perfectly relevant: the document is about the query and fully answers it",
    "2": "highly relevant: it answers the query, but part of the answer is missing or unclear",
    "1": "related: it is on the query's topic but does not answer it",
    "0": "irrelevant: it has nothing to do with the query",
}


def expected_grade(distribution: Mapping[str, float] | None, label: Any = None) -> float:
    """The score that ranks documents: sum of grade x probability (the label itself without one)."""
    if distribution:
        num = {k: float(v) for k, v in distribution.items() if str(k).isdigit()}
        z = sum(num.values())
        if z > 0:
            return sum(int(k) * p for k, p in num.items()) / z
    return float(label) if label is not None and str(label).isdigit() else 0.0


@register_task("relevance")
class Relevance(PairClassification):
    default_template = "relevance.v1.j2"

    def normalize_gold(self, raw: Any) -> str:
        """A judgement as a grade: an integer 0-3 (``2.0`` too); other scales map with data.label_map."""
        try:
            value = str(int(float(str(raw).strip())))
        except ValueError:
            value = str(raw).strip()
        return super().normalize_gold(value)

    def record_metrics(self, records: Sequence[Record], gold: Sequence[Any], labeled: Sequence[Labeled]) -> dict:
        """Grade agreement and the ranking by expected grade, per query (the query's text)."""
        from ..search.metrics import grade_agreement, ranking_metrics
        qrels: dict[str, dict[str, int]] = {}
        run: dict[str, dict[str, float]] = {}
        for r, g, l in zip(records, gold, labeled):
            q = str(r.fields[self.cfg.text_field])
            if g is not None:
                qrels.setdefault(q, {})[r.id] = int(g)
            run.setdefault(q, {})[r.id] = expected_grade(l.distribution, l.label)
        out = grade_agreement([g for g in gold], [l.label for l in labeled], self.labels)
        out["ranking"] = ranking_metrics(qrels, run)
        return out


register_kind(TaskKind(
    "relevance", display="labelwise.search.display:show_relevance", default_labels=GRADES, two_texts=True,
    rounds="labelwise.search.rounds:RelevanceRounds",
    metric_names={"ndcg@10": "nDCG@10"}, labels_are="grades",
    starter=Starter("labelwise.search.starter:CONFIG_TEMPLATE", ("search_sample.jsonl",),
                    "search sample (queries, documents and judgements written for labelwise)")))
