"""``seqkit serve``: any task's predict over HTTP JSON, with request batching, limits and graceful shutdown."""
