"""Take the README's screenshot of the review page (docs/review.png): a project built from the
bundled Yelp sample, pre-annotations from a scripted annotator (the screenshot shows the page,
not a model), the real server and Debian's headless Chromium.

    .venv/bin/python scripts/screenshot_review.py [--out docs/review.png]
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labelwise import Project  # noqa: E402
from labelwise.annotators.fake import FakeAnnotator  # noqa: E402
from labelwise.cli.review_cmds import add_reviewer  # noqa: E402
from labelwise.review.server import ReviewState, make_app  # noqa: E402
from tests.review.browser import browser, serving  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "review.png")
    args = ap.parse_args()
    text = resources.files("labelwise").joinpath("demo_data", "yelp_reviews.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))[:40]
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        with open(folder / "data.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "text"])
            w.writerows([(f"r{i}", r["text"]) for i, r in enumerate(rows)])
        (folder / "labelwise.yaml").write_text(
            "task: {kind: classification, labels: {positive: the reviewer liked it, negative: the reviewer did not}}\n"
            "data: {path: data.csv, id_field: id}\nannotator: {backend: fake, model: scripted}\n", encoding="utf-8")
        p = Project.open(folder)
        p.__dict__["annotator"] = FakeAnnotator(lambda q: {"positive": math.log(0.58), "negative": math.log(0.42)},
                                                model="scripted")
        p.run(watch_gold=False)
        p.store.queue_for_review("route/demo", [f"r{i}" for i in range(len(rows))], "not certified by any stage")
        token = add_reviewer(p, "alice")
        with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
            page = b.new_page(viewport={"width": 900, "height": 620})
            page.goto(f"{base}/login?token={token}")
            page.wait_for_selector("#item-data", state="attached")
            page.keyboard.press("?")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
