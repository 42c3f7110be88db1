"""``seqkit export`` (seqkit/export/): torch and ONNX programs and bundles against seqkit's own answers."""
