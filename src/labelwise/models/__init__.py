"""Encoders and small models (scikit-learn-style estimators)."""
from .base import SMALL_MODELS, SmallModel, make_small_model, register_small_model
from .finetuned import FineTunedModel
from .logreg import LogRegModel
from .pair import PairModel

__all__ = ["SMALL_MODELS", "SmallModel", "make_small_model", "register_small_model", "LogRegModel",
           "FineTunedModel", "PairModel"]
