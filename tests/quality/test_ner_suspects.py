"""Token-level suspects for NER: a project whose LLM tags are right except for injected type
swaps; cleanlab's token classification over out-of-fold marginals of the real CRF tagger
flags the swapped tokens, and the report shows them."""
import json
import random

from typer.testing import CliRunner

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.app import app
from labelwise.quality.label_issues import token_label_issues
from tests.conftest import write

PEOPLE = ["Maria", "John", "Aisha", "Kwame", "Lena", "Pedro", "Yuki", "Omar", "Sara", "Tom"]
PLACES = ["Paris", "Lagos", "Nairobi", "Lima", "Oslo", "Cairo", "Tokyo", "Quito", "Accra", "Rome"]


def sentences(n, seed=0):
    rng = random.Random(seed)
    frames = [("I met {p} in {c} yesterday .", 2, 4), ("{p} flew to {c} on Monday .", 0, 3),
              ("We saw {p} near {c} again .", 2, 4), ("Later {p} moved to {c} for work .", 1, 4)]
    out = []
    for i in range(n):
        f, pi, ci = frames[i % len(frames)]
        toks = f.format(p=rng.choice(PEOPLE), c=rng.choice(PLACES)).split()
        tags = ["O"] * len(toks)
        tags[pi], tags[ci] = "B-person", "B-location"
        out.append({"id": f"s{i}", "tokens": toks, "ner_tags": tags})
    return out


def test_token_label_issues_finds_a_clear_swap():
    import numpy as np
    o, per, loc = [0.9, 0.05, 0.05], [0.03, 0.94, 0.03], [0.03, 0.03, 0.94]
    tags = [["O", "B-person"]] * 5 + [["O", "B-location"]] * 5 + [["O", "B-location"]]
    probs = [[o, per]] * 5 + [[o, loc]] * 5 + [[o, per]]  # the last sentence's token looks like a person
    found = token_label_issues(tags, [np.array(p) for p in probs], ["O", "B-person", "B-location"])
    assert [(f["sentence"], f["token"], f["tag"], f["suggested"]) for f in found] == [(10, 1, "B-location", "B-person")]
    assert found[0]["quality"] == found[0]["sentence_quality"] == 0.03


def test_quality_report_flags_swapped_entity_types(tmp_path):
    rows = sentences(160)
    write(tmp_path / "data.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write(tmp_path / "labelwise.yaml", """
task:
  kind: ner
  text_field: tokens
  labels: {person: names of people, location: places}
data: {path: data.jsonl, id_field: id, label_field: ner_tags}
annotator: {backend: fake, model: tagger}
""")
    p = Project.open(tmp_path)
    swapped = {f"s{i}" for i in range(3, 160, 10)}  # 16 sentences: the person tagged as a location
    by_text = {" ".join(r["tokens"]): r for r in rows}

    def answer(q):
        text = q.messages[-1].content
        r = next(v for k, v in by_text.items() if k in text)
        tags = list(r["ner_tags"])
        if r["id"] in swapped:
            tags = ["B-location" if t == "B-person" else t for t in tags]
        return p.task.answer_json(r["tokens"], tags)

    p.__dict__["annotator"] = FakeAnnotator(answer, model="tagger")
    s = p.run()
    assert s.annotated == 160 and s.errors == 0
    import labelwise.project as project_module
    real = project_module.make_annotator
    try:  # the CLI opens the project itself: give it the same scripted annotator
        project_module.make_annotator = lambda cfg: p.annotator if cfg.backend == "fake" else real(cfg)
        r = CliRunner().invoke(app, ["quality", "-p", str(tmp_path), "--near-duplicates", "1"])
    finally:
        project_module.make_annotator = real
    assert r.exit_code == 0, r.output
    q = json.loads((tmp_path / "quality.json").read_text())
    li = q["label_issues"]
    assert li["level"] == "token" and li["sentences"] == 160 and li["checked"] == sum(len(x["tokens"]) for x in rows)
    swap_token = {(f"s{i}", rows[i]["ner_tags"].index("B-person")) for i in range(3, 160, 10)}
    top = [(i["record_id"], i["token_index"]) for i in li["items"][:20]]
    assert len(set(top) & swap_token) >= 12, li["items"][:20]  # the swapped tokens rank first
    flagged = [(i["record_id"], i["token_index"]) for i in li["items"] if i["flagged"]]
    assert flagged and set(flagged) <= swap_token and li["flagged"] == len(flagged)  # every flag a real error
    assert li["listed_that_are_wrong"] >= 12
    page = (tmp_path / "quality.html").read_text()
    assert "Token-level confident learning" in page and "[" + rows[3]["tokens"][rows[3]["ner_tags"].index("B-person")] in page
