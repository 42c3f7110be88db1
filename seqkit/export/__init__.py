"""``seqkit export``: a checkpoint → a self-contained bundle (ONNX or torch graphs, tokenizer, labels, manifest)."""
