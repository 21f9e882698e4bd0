"""NER with the embedded LLM (issue 4): LLM-label F1 against gold on MasakhaNER 2.0 (Bambara,
Setswana, isiZulu) and WNUT-17, zero-shot / fixed few-shot / retrieved few-shot; the error share;
active-learning curves of the CRF tagger (mean token entropy vs random at the same LLM budget,
next to the CRF on all gold labels); and the annotator comparison and leakage rates of the
packaged models. Needs ../shared/datasets. Every figure is written by this script."""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results import shared_datasets, write_section  # noqa: E402

from labelwise.compare import compare_annotators  # noqa: E402
from labelwise.evaluate import evaluate  # noqa: E402
from labelwise.leakage import probe_leakage  # noqa: E402
from labelwise.loop import ActiveLearningLoop  # noqa: E402
from labelwise.models.base import make_small_model  # noqa: E402
from labelwise.project import Project  # noqa: E402
from labelwise.quality.ner_metrics import ner_report  # noqa: E402

MASAKHA = {"PER": "names of people", "ORG": "organisations, companies, institutions",
           "LOC": "places: countries, cities, regions", "DATE": "dates and times of day"}
WNUT = {"person": "names of people", "location": "places", "corporation": "companies",
        "product": "products", "creative-work": "titles of books, songs, films, shows",
        "group": "bands, teams, organisations that are not companies"}
DATASETS = {  # name: (folder, entity types, language)
    "bam": ("masakhaner2/bam", MASAKHA, "Bambara"), "tsn": ("masakhaner2/tsn", MASAKHA, "Setswana"),
    "zul": ("masakhaner2/zul", MASAKHA, "isiZulu"), "wnut17": ("wnut17", WNUT, "English tweets"),
}


def rows(name: str, split: str, n: int | None, seed: int = 13) -> list[dict]:
    folder = shared_datasets() / DATASETS[name][0]
    data = [json.loads(line) for line in open(folder / f"{split}.jsonl", encoding="utf-8")]
    random.Random(seed).shuffle(data)
    return [{"id": f"{split}-{r['id']}", "tokens": r["tokens"], "ner_tags": r["ner_tags"], "split": split}
            for r in data[:n]]


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    return path


def make_project(d: Path, name: str, data: list[dict], examples: list[dict], mode: str, k: int, model: str,
                 extra: str = "") -> Project:
    d.mkdir(parents=True, exist_ok=True)
    write_jsonl(d / "data.jsonl", data)
    write_jsonl(d / "examples.jsonl", examples)
    types = DATASETS[name][1]
    labels = "".join(f"    {t}: {json.dumps(desc)}\n" for t, desc in types.items())
    (d / "labelwise.yaml").write_text(
        f"task:\n  kind: ner\n  text_field: tokens\n  instructions: The sentence is in {DATASETS[name][2]}.\n"
        f"  labels:\n{labels}data:\n  path: data.jsonl\n  id_field: id\n  label_field: ner_tags\n"
        f"  split_field: split\nannotator:\n  model: {model}\n  n_ctx: 4096\n"
        f"few_shot:\n  mode: {mode}\n  k: {k}\n  path: examples.jsonl\n{extra}", encoding="utf-8")
    return Project.open(d)


def llm_labels(args: argparse.Namespace, tmp: Path) -> str:
    lines = ["| dataset | prompt | sentences | entity F1 (micro) | precision | recall | macro-F1 | token acc. "
             "| errors | token-confidence AUROC: all tokens / in predicted entities | s/sentence |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in args.datasets.split(","):
        test, pool = rows(name, "test", args.n), rows(name, "train", 300)
        for mode in ("none", "fixed", "nearest"):
            p = make_project(tmp / f"{name}-{mode}", name, test, pool, mode, args.shots, args.model)
            t0 = time.perf_counter()
            p.run()
            wall = time.perf_counter() - t0
            m = evaluate(p)
            label = {"none": "zero-shot", "fixed": f"{args.shots} fixed", "nearest": f"{args.shots} retrieved"}[mode]
            mi = m.get("micro", {"f1": 0.0, "precision": 0.0, "recall": 0.0})
            lines.append(f"| {name} | {label} | {m['annotated']} | {mi['f1']:.3f} | {mi['precision']:.3f} | "
                         f"{mi['recall']:.3f} | {m.get('macro_f1', 0.0):.3f} | {m.get('token_accuracy', 0.0):.1%} | "
                         f"{m['error_share']:.1%} | {_auroc(m)} | {wall / max(1, m['annotated']):.2f} |")
            print(lines[-1], flush=True)
            p.annotator.unload()
    return "\n".join(lines)


def _auroc(m: dict) -> str:
    tc = m.get("token_confidence") or {}
    return " / ".join("–" if tc.get(k) is None else f"{tc[k]:.3f}" for k in ("auroc", "auroc_entities"))


def al_curves(args: argparse.Namespace, tmp: Path) -> str:
    name = args.al_dataset
    pool, test = rows(name, "train", args.al_pool), rows(name, "test", args.al_test, seed=7)
    examples = rows(name, "validation", 50)
    p = make_project(tmp / f"al-{name}", name, pool + test, examples, "fixed", args.shots, args.model,
                     extra=f"loop:\n  seed_size: {args.al_seed}\n")
    lines = ["| strategy | round | LLM labels bought | of which errors | LLM-label F1 | CRF test F1 (micro) |",
             "|---|---|---|---|---|---|"]
    rounds = (args.al_budget - args.al_seed) // args.al_step
    for strategy in ("mean_token_entropy", "random"):
        loop = ActiveLearningLoop(p, strategy=strategy, budget=args.al_budget, rounds=rounds, seed=0,
                                  seed_size=args.al_seed, test_split="test")
        for r in loop.run():
            test_f1 = r["test"].get("source", {}).get("f1")
            lines.append(f"| {strategy} | {r['round']} | {r['llm_labels']} | {r['llm_errors']} | "
                         f"{r['llm_label_accuracy'] if r['llm_label_accuracy'] is None else round(r['llm_label_accuracy'], 3)} | "
                         f"{'—' if test_f1 is None else f'{test_f1:.3f}'} |")
            print(lines[-1], flush=True)
    p.annotator.unload()
    gold_train = rows(name, "train", None)
    crf = make_small_model("crf").fit([r["tokens"] for r in gold_train], [r["ner_tags"] for r in gold_train])
    full = ner_report([r["ner_tags"] for r in test], crf.predict([r["tokens"] for r in test]),
                      tuple(DATASETS[name][1]))["micro"]["f1"]
    pool_gold = make_small_model("crf").fit([r["tokens"] for r in pool], [r["ner_tags"] for r in pool])
    pool_f1 = ner_report([r["ner_tags"] for r in test], pool_gold.predict([r["tokens"] for r in test]),
                         tuple(DATASETS[name][1]))["micro"]["f1"]
    lines.append(f"| CRF on all {len(gold_train)} gold train sentences | – | 0 | – | – | {full:.3f} |")
    lines.append(f"| CRF on the {len(pool)} pool sentences, gold labels | – | 0 | – | – | {pool_f1:.3f} |")
    return "\n".join(lines)


def annotators_and_leakage(args: argparse.Namespace, tmp: Path) -> str:
    name = args.compare_dataset
    test, pool = rows(name, "test", args.compare_n, seed=21), rows(name, "train", 300)
    p = make_project(tmp / f"cmp-{name}", name, test, pool, "fixed", args.shots, args.model)
    res = compare_annotators(p, [f"llamacpp:{m}" for m in args.compare_models.split(",")], repeats=args.repeats,
                             vary_examples=True)
    lines = ["| annotator | sentences | entity F1 (micro) | errors | identical over repeats | s/sentence | "
             "tokens/sentence | repeats |", "|---|---|---|---|---|---|---|---|"]
    for a in res["annotators"]:
        head = a["headline"]["value"] if a["headline"] else float("nan")
        same = a["consistency"]["all_equal"]
        lines.append(f"| {a['annotator']} | {a['items']} | {head:.3f} | {a['error_share']:.1%} | "
                     f"{'–' if same is None else f'{same:.1%}'} | {a['seconds_per_item']:.2f} | "
                     f"{a['tokens_per_item']:.0f} | {a['repeats_done']} ({a['repeats_kind']}) |")
    lines += ["", "Leakage probes (name the dataset; complete the second half verbatim), real sentences vs "
              "a control of the same sentences with shuffled tokens:", "",
              "| annotator | probe | real rate | control rate | n |", "|---|---|---|---|---|"]
    for m in args.compare_models.split(","):
        lp = make_project(tmp / f"leak-{m}", name, test, pool, "none", 0, m)
        s = probe_leakage(lp, n=args.compare_n, dataset_names=args.dataset_names.split("|"))
        for probe, v in s["rates"].items():
            real, ctrl = v["real"], v["control"]
            lines.append(f"| {m} | {probe} | {_pct(real)} | {_pct(ctrl)} | {real['n']} |")
        lp.annotator.unload()
    return "\n".join(lines)


def _pct(r: dict) -> str:
    return "not scored" if r["rate"] is None else f"{r['rate']:.1%} ({r['hits']}/{r['n']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--datasets", default="bam,tsn,zul,wnut17")
    ap.add_argument("--n", type=int, default=40, help="test sentences per dataset for the LLM-label table")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--al-dataset", default="bam")
    ap.add_argument("--al-pool", type=int, default=400)
    ap.add_argument("--al-test", type=int, default=300)
    ap.add_argument("--al-seed", type=int, default=20)
    ap.add_argument("--al-budget", type=int, default=60)
    ap.add_argument("--al-step", type=int, default=20)
    ap.add_argument("--compare-dataset", default="wnut17")
    ap.add_argument("--compare-models", default="qwen2.5-coder-1.5b-instruct,qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--compare-n", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dataset-names", default="WNUT|W-NUT|WNUT17|WNUT-17|Emerging and Rare Entities")
    ap.add_argument("--parts", default="labels,al,compare")
    args = ap.parse_args()
    cmd = "python bench/bench_ner.py " + " ".join(sys.argv[1:])
    parts = args.parts.split(",")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        if "labels" in parts:
            body = (f"{args.model} through the embedded backend (no grammar: the prompt asks for JSON; an answer "
                    f"that is not valid JSON or names words not in the sentence is an error). {args.n} test "
                    f"sentences per dataset (shuffled, `random.Random(13)`); few-shot examples from 300 train "
                    f"sentences: fixed (label-balanced by entity types) or retrieved per sentence by MiniLM "
                    f"similarity. Entity F1 is exact-match, CoNLL convention, over the sentences without error. "
                    f"Token-confidence AUROC: how well the per-token confidence from the generated tokens' "
                    f"log-probabilities ranks right tags above wrong ones (0.5 = no signal); over all tokens it partly measures O vs entity "
                    f"(O tokens are mostly right and get the list-closing probability), so the second figure "
                    f"compares only tokens inside predicted entities (– where it is undefined: those tokens "
                    f"were all right, all wrong, or none had a confidence)."
                    f"\n\n{llm_labels(args, tmp)}")
            write_section("ner-llm", "NER: LLM labels against gold (MasakhaNER 2.0, WNUT-17)", body, cmd)
        if "al" in parts:
            body = (f"{args.al_dataset}: pool of {args.al_pool} train sentences, CRF evaluated on {args.al_test} "
                    f"test sentences; the LLM ({args.model}, {args.shots} fixed examples from validation) labels "
                    f"a seed of {args.al_seed}, then {args.al_step} per round chosen by the strategy, up to "
                    f"{args.al_budget} sentences; one seed.\n\n{al_curves(args, tmp)}")
            write_section("ner-al", "NER: active learning with an LLM oracle (CRF tagger)", body, cmd)
        if "compare" in parts:
            body = (f"{args.compare_dataset}, {args.compare_n} test sentences, {args.repeats} runs each: the first "
                    f"with {args.shots} fixed examples, the others with {args.shots} random ones (seeds 1..): the "
                    f"embedded backend is deterministic, so 'identical over repeats' measures how much the labels "
                    f"depend on the choice of examples. F1 is the first run's.\n\n{annotators_and_leakage(args, tmp)}")
            write_section("ner-annotators", "NER: annotator comparison and leakage probes", body, cmd)


if __name__ == "__main__":
    main()
