"""Run with the Label Studio SDK's own Python (.venv-ls, see scripts/setup.sh): validate a
labeling config and every task's data, prediction and annotation with LabelInterface. Prints
one JSON object: the config's validity and the items that failed."""
import json
import sys

from label_studio_sdk.label_interface import LabelInterface

tasks_path, config_path = sys.argv[1], sys.argv[2]
config = open(config_path, encoding="utf-8").read()
li = LabelInterface(config)
out = {"config_ok": True, "tasks": 0, "predictions": 0, "annotations": 0, "bad": []}
try:
    li.validate()
except Exception as e:  # noqa: BLE001
    out["config_ok"] = False
    out["bad"].append(["config", str(e)])
for i, t in enumerate(json.load(open(tasks_path, encoding="utf-8"))):
    out["tasks"] += 1
    if not li.validate_task({"data": t["data"]}):  # validate_task crashes on tasks with predictions (2.1.2)
        out["bad"].append([i, "data"])
    for p in t.get("predictions", []):
        out["predictions"] += 1
        if not li.validate_prediction(p):
            out["bad"].append([i, "prediction", p["model_version"]])
    for a in t.get("annotations", []):
        out["annotations"] += 1
        if not li.validate_annotation(a):
            out["bad"].append([i, "annotation"])
print(json.dumps(out))
