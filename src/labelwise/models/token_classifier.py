""""token_classifier": the packaged MiniLM encoder fine-tuned with a linear head over each word's
first sub-token -- the NER tagger to pick when context matters more than word shape (slower than
"crf": torch on CPU, seconds per epoch for a few hundred sentences).

Truncation rule: a sentence is cut at ``max_length`` sub-tokens (special tokens included). Words
whose first sub-token falls past the cut -- and words the tokenizer turns into no sub-token at all,
such as an empty string -- are tagged "O" with marginal 1.0 on "O": the model never saw them, and
"O" is the tag that adds no span. They are skipped in training for the same reason.
torch and the encoder load on first use (``fit``), never in the constructor.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import register_small_model
from .crf import OUTSIDE, Sentences, TaggerMixin, check_sentences, check_tags
from .encoder import DEFAULT_ENCODER, Encoder
from .finetuned import fine_tune, trainable_copy

IGNORE = -100  # torch cross_entropy's ignore_index: sub-tokens that are not a word's first


@register_small_model("token_classifier")
class TokenClassifier(TaggerMixin):
    """MiniLM + ``Linear(hidden, len(tags_))`` trained with token-level cross-entropy (encoder lr
    ``lr``, head lr ``head_lr``). ``seed`` fixes head init, shuffling and dropout."""

    def __init__(self, epochs: int = 4, batch_size: int = 8, lr: float = 5e-5, head_lr: float = 2e-3,
                 max_length: int = 128, freeze_embeddings: bool = True, seed: int = 0,
                 encoder: str | Encoder = DEFAULT_ENCODER, store: Any = None) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr = head_lr
        self.max_length = max_length
        self.freeze_embeddings = freeze_embeddings
        self.seed = seed
        self.encoder = encoder
        self.store = store

    def fit(self, X: Sentences, y: Sequence[Sequence[str]]) -> "TokenClassifier":
        sents = check_sentences(X)
        tags = check_tags(sents, y)
        self.model_, self.head_ = None, None
        tag_names = self._set_tags(tags)
        keep = [i for i, s in enumerate(sents) if s]
        if len(tag_names) > 1 and keep:  # one tag: nothing to learn, it is the answer everywhere
            import torch
            st = trainable_copy(self.encoder, self.max_length, self.freeze_embeddings)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                head = torch.nn.Linear(st[0].auto_model.config.hidden_size, len(tag_names))
            index = {t: j for j, t in enumerate(tag_names)}
            self.model_, self.head_ = st, head

            def loss_fn(idx: list[int]) -> Any:
                batch = [sents[keep[i]] for i in idx]
                logits, firsts = self._forward(batch)
                target = torch.full(logits.shape[:2], IGNORE, dtype=torch.long)
                for b, pos in enumerate(firsts):
                    for w, p in enumerate(pos):
                        if p >= 0:
                            target[b, p] = index[tags[keep[idx[b]]][w]]
                if not (target != IGNORE).any():  # only words without sub-tokens: no signal, and no NaN
                    return (logits * 0.0).sum()
                return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(),
                                                         ignore_index=IGNORE)

            fine_tune(st, list(head.parameters()), len(keep), loss_fn, epochs=self.epochs,
                      batch_size=self.batch_size, lr=self.lr, head_lr=self.head_lr, seed=self.seed)
            head.requires_grad_(False)
        return self

    def _limit(self) -> int:
        return int(min(self.max_length, self.model_[0].tokenizer.model_max_length))

    def _forward(self, batch: list[tuple[str, ...]]) -> tuple[Any, list[list[int]]]:
        """Logits ``(B, L, n_tags)`` over sub-tokens, and per sentence the position of each word's
        first sub-token (-1 where truncated away or where the word has no sub-token)."""
        transformer = self.model_[0]
        enc = transformer.tokenizer([list(s) for s in batch], is_split_into_words=True, truncation=True,
                                    max_length=self._limit(), padding=True, return_tensors="pt")
        firsts = []
        for b, sent in enumerate(batch):
            pos = [-1] * len(sent)
            for p, w in enumerate(enc.word_ids(b)):
                if w is not None and pos[w] < 0:
                    pos[w] = p
            firsts.append(pos)
        hidden = transformer.auto_model(**enc).last_hidden_state
        return self.head_(hidden), firsts

    def token_marginals(self, X: Sentences) -> list[np.ndarray]:
        """Per sentence an ``(n_tokens, len(tags_))`` softmax over tags for each word (its first
        sub-token); truncated words get 1.0 on "O" (see the module docstring)."""
        self._check_fitted()
        sents, k = check_sentences(X), len(self.tags_)
        outside = self.tags_.index(OUTSIDE)
        out = [np.zeros((len(s), k)) for s in sents]
        for m in out:
            m[:, outside] = 1.0
        if self.model_ is None:
            return out
        import torch
        todo = [i for i, s in enumerate(sents) if s]
        self.model_.eval()
        with torch.inference_mode():
            for start in range(0, len(todo), self.batch_size):
                idx = todo[start:start + self.batch_size]
                logits, firsts = self._forward([sents[i] for i in idx])
                probs = torch.softmax(logits.double(), dim=-1).numpy()
                for b, i in enumerate(idx):
                    for w, p in enumerate(firsts[b]):
                        if p >= 0:
                            out[i][w] = probs[b, p] / probs[b, p].sum()
        return out

    def sequence_logprob(self, X: Sentences) -> np.ndarray:
        """Sum over words of log max-marginal: the log-probability of the argmax path if tags were
        independent given the sentence (a token classifier has no transition model)."""
        return np.array([float(np.log(np.maximum(m.max(axis=1), np.finfo(float).tiny)).sum()) if len(m) else 0.0
                         for m in self.token_marginals(X)])
