"""The config `labelwise init DIR --task relevance` writes."""

CONFIG_TEMPLATE = """\
# labelwise project: search relevance. Every key is documented; delete what you do not need.
task:
  kind: relevance             # grade (query, document) pairs 0-3; documents rank by the expected grade
  text_field: query           # the query
  text_pair_field: document   # the document
  instructions: ""            # extra guidance for the grader, e.g. who the searcher is
  # labels: the grades 0-3 with their definitions (the defaults are in labelwise/tasks/relevance.py)

data:
  path: data/search_sample.jsonl   # pairs; from a BEIR folder: `labelwise search pairs DIR --out data/pairs.jsonl`
  id_field: id
  label_field: label          # human judgements (0-3), optional; used by `labelwise eval`

annotator:
  backend: llamacpp
  model: qwen2.5-coder-1.5b-instruct
  temperature: 0.0

budget:
  # money: 1.00
  # requests: 500
"""
