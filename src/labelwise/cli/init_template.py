"""The commented labelwise.yaml that `labelwise init` writes (every key, with its default)."""

CONFIG_TEMPLATE = """\
# labelwise project. Relative paths are relative to this file. Unknown keys are an error.

task:
  kind: classification        # classification | multilabel | pair
  instructions: Decide whether the restaurant review sentence is positive or negative.
  labels:                     # label name: short description (the model sees both)
    positive: the writer likes the place, food or service
    negative: the writer dislikes the place, food or service
  text_field: text            # column with the text (pair: also text_pair_field)
  # text_pair_field: text_b
  # template: my-template.j2  # default: the task kind's packaged, versioned template

data:
  path: data/yelp_reviews.csv # CSV, JSONL or Parquet
  format: auto
  id_field: id                # omit to use an id made from the text (stable when rows move)
  label_field: label          # gold labels, optional; used by `labelwise eval`
  # label_map: {"0": negative, "1": positive}   # map raw gold values to label names
  # domain_field: domain
  # limit: 100

annotator:
  backend: llamacpp           # llamacpp (embedded, offline) | openai (any compatible server) | fake
  model: qwen2.5-coder-1.5b-instruct   # a catalogue name (`labelwise models list`) or a .gguf path
  # base_url: http://127.0.0.1:8000/v1 # openai backend only
  # api_key_env: OPENAI_API_KEY        # the NAME of the variable holding the key, never the key
  concurrency: 8              # requests in flight (openai backend)
  max_retries: 5
  timeout_s: 60
  samples: 5                  # votes per item when a backend gives no log-probabilities
  temperature: 0.7            # for those votes
  calibrate: false            # subtract the content-free prior from choice scores
  n_ctx: 2048                 # llamacpp context size
  # n_threads: 2              # llamacpp threads; unset: the cores other processes leave free

few_shot:
  mode: none                  # none | fixed | random | nearest (by all-MiniLM-L6-v2 embedding)
  k: 4
  balanced: true              # the same number of examples per label where possible
  order: similar_last         # nearest: similar_last | shared_first (popular examples first: prompts
                              #   share prefixes; items with the same examples, the same prompt head)
  # clusters: 16              # nearest: examples nearest each item's cluster centre (16 clusters of the
                              #   examples): a cluster's items share one prompt head, near fixed's cost
  path: data/yelp_examples.csv

budget:                       # any of these; the run stops before exceeding one
  # money: 1.00               # dollars
  # calls: 500
  # tokens: 200000

store:
  path: labelwise.db          # SQLite project database (records, annotations, cache, ledger)
  # url: postgresql://user@host/db   # PostgreSQL instead: many annotate processes (or --runner ray) at once

gold:                         # gold questions: rows with a gold label, plus `path`, mixed into the stream
  # path: data/gold.csv       # labeled items with the data's columns, inserted at random positions
  # target: 0.8               # accuracy the annotator must reach; unset: gold accuracy is only reported
  delta: 0.05                 # the test's error rate: stop only when shown below target at 95%
  action: stop                # stop (before the next paid call) | warn | reroute (to the next route stage)
  min_items: 10               # gold answers before the test may act
  # sample: 200               # ask at most this many gold items
  # certainty_field: agree     # how sure each gold label is (e.g. share of people who agreed): most certain first
  # min_certainty: 0.8        # gold rows under this are not asked

# prices: my-prices.yaml      # extra price rows, tried before the packaged table
human_price_per_label: 0.08   # dollars, for the cost comparison in reports
"""


NER_CONFIG_TEMPLATE = """\
# labelwise project for named entities. Relative paths are relative to this file.

task:
  kind: ner
  instructions: Find the named entities in the tweet.
  labels:                     # entity type: short description (the model sees both)
    person: names of people
    location: places
    corporation: companies
    product: products
    creative-work: titles of books, songs, films, shows
    group: bands, teams, organisations that are not companies
  text_field: tokens          # a list of tokens (JSONL, CoNLL) or a raw-text column (tokenized for you)
  confidence_samples: 1       # >1: extra sampled answers; token_agreement = their agreement with the first

data:
  path: data/wnut17_sample.jsonl   # JSONL of {"tokens": [...], "ner_tags": [...]}, or CoNLL/IOB (format: conll)
  format: auto
  id_field: id
  label_field: ner_tags       # gold BIO tags, optional; used by `eval` and the loop's test split
  split_field: split          # rows with split=test are the loop's test set

annotator:
  backend: llamacpp
  model: qwen2.5-coder-1.5b-instruct
  n_ctx: 4096
  grammar: false              # true: force the JSON schema with a grammar (exact, much slower here)

few_shot:
  mode: nearest               # none | fixed | random | nearest: examples retrieved per sentence by similarity
  k: 4
  balanced: true              # mix sentences with different entity types
  path: data/wnut17_sample.jsonl

loop:                         # `labelwise loop`: the LLM labels what the strategy picks, a CRF tags the rest
  strategy: mean_token_entropy  # max_token_entropy | sequence_least_confidence | random
  model: crf                  # or token_classifier (fine-tuned MiniLM; English-centric)
  budget: 40
  rounds: 2
  seed_size: 20
  stable_rounds: 0            # > 0: stop early once predictions changed for < stable_change of the pool that many rounds in a row
  # initial_train: data/source.conll   # gold-labeled source sentences the tagger learns before any LLM label
  # pool: data/unlabeled.conll         # inputs (any domains) to buy LLM labels from; the data file is then the test set

store:
  path: labelwise.db
"""
