"""Records, data sources, corpora and downloads, tokenizers and the splitter (seqkit/data/)."""
