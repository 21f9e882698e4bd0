"""Run with the Argilla SDK's own Python (.venv-ls, see scripts/setup.sh): load an exported
dataset folder with the SDK's readers and check every record against the settings. Prints one
JSON object: what loaded and the records that failed.

The SDK needs a client even to build settings, and a client asks the server who it is
(``GET /api/v1/me``) when made; a one-route server on 127.0.0.1 answers that and nothing else,
so any other request the SDK made would fail loudly. What is checked: the dataset model parses
(``DatasetModel``), the settings load (``Settings.from_json``), every record loads
(``Record.from_dict``) and turns into its API model in the dataset (``_ingest_records``: the SDK
refuses a suggestion or response for a question the settings lack); then each suggestion and
response value is one the question allows (label options, rating values, spans inside the
text with a known label), which the SDK leaves to the server."""
import http.server
import json
import sys
import threading
import uuid
from pathlib import Path

import argilla as rg
from argilla._models import DatasetModel


class Me(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path != "/api/v1/me":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"id": str(uuid.uuid4()), "username": "validator", "role": "owner"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def allowed(question, value):
    s = question.serialize()["settings"]
    options = [o["value"] for o in s.get("options", [])]
    if s["type"] == "label_selection":
        return value in options
    if s["type"] == "multi_label_selection":
        return isinstance(value, list) and all(v in options for v in value)
    if s["type"] == "rating":
        return value in options
    if s["type"] == "span":
        return isinstance(value, list) and all(v["label"] in options and 0 <= v["start"] < v["end"] for v in value)
    return False


folder = Path(sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Me)
threading.Thread(target=server.serve_forever, daemon=True).start()
client = rg.Argilla(api_url=f"http://127.0.0.1:{server.server_port}", api_key="offline", retries=0)
model = DatasetModel(**json.loads((folder / ".argilla" / "dataset.json").read_text()))
settings = rg.Settings.from_json(folder / ".argilla" / "settings.json")
dataset = rg.Dataset(name=model.name, settings=settings, client=client)
raw = json.loads((folder / "records.json").read_text())
records = [rg.Record.from_dict(d, dataset=dataset) for d in raw]
out = {"name": model.name, "questions": [q.name for q in settings.questions], "fields": [f.name for f in settings.fields],
       "records": len(records), "suggestions": 0, "responses": 0, "bad": []}
dataset.records._ingest_records(records)
question = settings.questions["label"]
for d in raw:
    for name, f in d["fields"].items():
        if not isinstance(f, str):
            out["bad"].append([d["id"], "field", name])
    for name, s in d["suggestions"].items():
        out["suggestions"] += 1
        if not allowed(settings.questions[name], s["value"]):
            out["bad"].append([d["id"], "suggestion", s["agent"]])
        if s["value"] and question.serialize()["settings"]["type"] == "span":
            text = d["fields"][question.serialize()["settings"]["field"]]
            if any(v["end"] > len(text) for v in s["value"]):
                out["bad"].append([d["id"], "span outside the text"])
    for name, answers in d["responses"].items():
        for a in answers:
            out["responses"] += 1
            uuid.UUID(a["user_id"])
            if not allowed(settings.questions[name], a["value"]):
                out["bad"].append([d["id"], "response"])
print(json.dumps(out))
