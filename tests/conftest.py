import os
from pathlib import Path

import pytest

from labelwise.config import TaskConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def sentiment_task_cfg() -> TaskConfig:
    return TaskConfig(kind="classification", instructions="Is the review positive or negative?",
                      labels={"positive": "likes it", "negative": "dislikes it"})


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
