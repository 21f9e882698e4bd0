"""Search relevance: BEIR and TREC files, BM25 candidates, ranking metrics."""
