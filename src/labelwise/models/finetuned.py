""""finetuned": all-MiniLM-L6-v2 + a linear head, fine-tuned end to end with torch on CPU.

Its *base* model is logistic regression on the frozen (not fine-tuned) encoder's embeddings --
exactly the "logreg" model -- and the head starts from that regression's weights. Before the
first step the two agree, so |fine-tuned - base| measures only what fine-tuning the encoder on the
labels changed, which is what conditional informativeness is after. torch is imported lazily;
the torch helpers here are shared with the pair model.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np

from .base import SmallModelMixin, Texts, check_labels, check_texts, register_small_model, shared_encoder
from .encoder import DEFAULT_ENCODER, Encoder
from .logreg import LogRegModel


def trainable_copy(encoder: str | Encoder, max_length: int, freeze_embeddings: bool = True) -> Any:
    """A private copy of the loaded SentenceTransformer to fine-tune (the shared one stays frozen).
    ``freeze_embeddings`` keeps the token-embedding table (half of MiniLM's weights) fixed: half
    the optimizer state and step time, and a few hundred labels cannot move it usefully anyway."""
    st = copy.deepcopy(shared_encoder(encoder)._load())
    st.max_seq_length = max_length
    if freeze_embeddings:
        for name, param in st.named_parameters():
            if name.endswith("word_embeddings.weight"):
                param.requires_grad_(False)
    return st


def forward_embed(st: Any, texts: Sequence[str]) -> Any:
    """Unit-length sentence embeddings as a torch tensor, with gradients when training."""
    import torch
    prep = getattr(st, "preprocess", None) or st.tokenize  # renamed in sentence-transformers 6
    out = st(prep(list(texts)))["sentence_embedding"]
    return torch.nn.functional.normalize(out, dim=-1)


def embedding_dim(st: Any) -> int:
    """sentence-transformers 6 renamed the method; accept both spellings."""
    get = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    return int(get())


def encode_with(st: Any, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """Embeddings from a (fine-tuned) model, batch by batch, no autograd graph kept."""
    import torch
    st.eval()
    parts = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            parts.append(forward_embed(st, texts[i:i + batch_size]).float().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, embedding_dim(st)), np.float32)


def fine_tune(st: Any, extra: list[Any], n: int, loss_fn: Callable[[list[int]], Any], *, epochs: int,
              batch_size: int, lr: float, head_lr: float, seed: int) -> None:
    """AdamW over shuffled mini-batches; the seed fixes shuffling, dropout and head init while the
    caller's global torch RNG is left untouched. Optimizer state is dropped at the end."""
    import torch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        groups = [{"params": [p for p in st.parameters() if p.requires_grad], "lr": lr}]
        if extra:
            groups.append({"params": extra, "lr": head_lr})
        opt = torch.optim.AdamW(groups)
        st.train()
        for _ in range(epochs):
            for batch in torch.randperm(n, generator=gen).split(batch_size):
                loss = loss_fn(batch.tolist())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        opt.zero_grad(set_to_none=True)
    st.eval()
    st.requires_grad_(False)


@register_small_model("finetuned")
class FineTunedModel(SmallModelMixin):
    """Encoder + linear head trained with cross-entropy (encoder lr ``lr``, head lr ``head_lr``)."""

    def __init__(self, epochs: int = 3, batch_size: int = 16, lr: float = 2e-5, head_lr: float = 1e-3,
                 max_length: int = 128, C: float = 1.0, freeze_embeddings: bool = True, seed: int = 0,
                 encoder: str | Encoder = DEFAULT_ENCODER, store: Any = None) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr = head_lr
        self.max_length = max_length
        self.C = C
        self.freeze_embeddings = freeze_embeddings
        self.seed = seed
        self.encoder = encoder
        self.store = store

    def fit(self, X: Texts, labels: Sequence[str]) -> "FineTunedModel":
        texts = check_texts(X)
        classes, y = check_labels(texts, labels)
        self.base_ = LogRegModel(C=self.C, seed=self.seed, encoder=self.encoder, store=self.store)
        self.base_.fit_embeddings(self.embed(texts), y, classes)
        self.model_, self.head_ = None, None
        if len(classes) > 1:  # one class: nothing to learn, predict it with probability 1
            import torch
            st = trainable_copy(self.encoder, self.max_length, self.freeze_embeddings)
            head = self._head_from(self.base_.clf_, embedding_dim(st), len(classes))
            target = torch.as_tensor(y, dtype=torch.long)

            def loss_fn(idx: list[int]) -> Any:
                logits = head(forward_embed(st, [texts[i] for i in idx]))
                return torch.nn.functional.cross_entropy(logits, target[idx])

            fine_tune(st, list(head.parameters()), len(texts), loss_fn, epochs=self.epochs,
                      batch_size=self.batch_size, lr=self.lr, head_lr=self.head_lr, seed=self.seed)
            head.requires_grad_(False)
            self.model_, self.head_ = st, head
        self.classes_ = classes
        return self

    @staticmethod
    def _head_from(clf: Any, dim: int, k: int) -> Any:
        """Linear head equal to the base logistic regression (binary: logits [0, w.x + b])."""
        import torch
        with torch.random.fork_rng(devices=[]):  # its random init is overwritten: leave global RNG alone
            head = torch.nn.Linear(dim, k)
        coef, bias = np.asarray(clf.coef_, np.float32), np.asarray(clf.intercept_, np.float32)
        if k == 2:
            coef, bias = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], bias]).astype(np.float32)
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(coef))
            head.bias.copy_(torch.from_numpy(bias))
        return head

    def predict_proba(self, X: Texts) -> np.ndarray:
        self._check_fitted()
        texts = check_texts(X)
        if self.model_ is None:
            return np.ones((len(texts), 1))
        import torch
        E = torch.from_numpy(encode_with(self.model_, texts, self.batch_size))
        with torch.inference_mode():
            return torch.softmax(self.head_(E), dim=-1).double().numpy()

    def base_proba(self, X: Texts) -> np.ndarray:
        """Logistic regression on the frozen encoder's (cached) embeddings."""
        self._check_fitted()
        return self.base_.predict_proba(X)
