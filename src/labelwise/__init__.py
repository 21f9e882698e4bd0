"""labelwise: label datasets with LLMs under a budget, and prove the quality of the labels.

The public API is small and loads nothing heavy at import time::

    import labelwise
    project = labelwise.Project.open("my-project")
    summary = project.run()                 # annotate pending items (cache, budget, ledger)
    metrics = labelwise.evaluate(project)   # accuracy, macro-F1, calibration against gold
"""
from .config import ProjectConfig, load_config
from .errors import (AnnotatorError, BudgetExhausted, ConfigError, InputError, ItemError, LabelwiseError,
                     ParseError)
from .types import Annotation, Labeled, Message, Query, Record, Response, Usage

__version__ = "0.1.0"

__all__ = ["Project", "evaluate", "estimate", "ProjectConfig", "load_config", "Annotation", "Labeled", "Message",
           "Query", "Record", "Response", "Usage", "LabelwiseError", "InputError", "ConfigError", "ParseError",
           "BudgetExhausted", "AnnotatorError", "ItemError"]


def __getattr__(name: str):  # lazy: `import labelwise` stays fast
    if name == "Project":
        from .project import Project
        return Project
    if name == "evaluate":
        from .evaluate import evaluate
        return evaluate
    if name == "estimate":
        from .estimate import estimate
        return estimate
    raise AttributeError(name)
