"""Quality measures as plain functions over arrays."""
