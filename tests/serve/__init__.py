"""``seqkit serve`` (seqkit/serve/) over HTTP on 127.0.0.1."""
