"""How `labelwise eval` shows each built-in task kind's metrics (``TaskKind.display``)."""
from __future__ import annotations

from typing import Any

from rich.table import Table


def show_classification(m: dict[str, Any], console: Any) -> None:
    """Accuracy with its interval, macro-F1 and a per-class table (classification, pairs, multi-label)."""
    lo, hi = m["accuracy_ci95"]
    console.print(f"accuracy {m['accuracy']:.1%} (95% CI {lo:.1%}–{hi:.1%}), macro-F1 {m['macro_f1']:.3f}")
    t = Table("label", "precision", "recall", "F1", "support")
    for label, v in m["per_class"].items():
        t.add_row(label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    console.print(t)


def show_ner(m: dict[str, Any], console: Any) -> None:
    """Entity-level precision, recall and F1 (exact match), per type, and token confidence."""
    mi = m["micro"]
    console.print(f"entities (exact match): precision {mi['precision']:.3f}, recall {mi['recall']:.3f}, "
                  f"micro-F1 {mi['f1']:.3f}, macro-F1 {m['macro_f1']:.3f}; token accuracy "
                  f"{m['token_accuracy']:.1%} over {m['n_sentences']} sentences")
    t = Table("type", "precision", "recall", "F1", "gold", "predicted")
    for label, v in m["per_type"].items():
        t.add_row(label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]),
                  str(v["n_pred"]))
    console.print(t)
    tc = m.get("token_confidence")
    if tc and tc["n_tokens"]:
        au, ae = ("n/a" if tc[k] is None else f"{tc[k]:.3f}" for k in ("auroc", "auroc_entities"))
        console.print(f"token confidence (from log-probabilities, {tc['n_tokens']} tokens): AUROC right vs "
                      f"wrong {au} (inside predicted entities {ae}), ECE {tc['ece']:.3f}, mean "
                      f"{tc['mean_confidence']:.1%} vs token accuracy {tc['token_accuracy']:.1%}")
