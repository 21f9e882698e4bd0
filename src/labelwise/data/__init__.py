"""Readers turn files into Records; writers turn annotations into files."""
from .readers import read_records, read_rows
from .writers import export_annotations

__all__ = ["read_records", "read_rows", "export_annotations"]
