"""seqkit's tests, in folders by what they test: see CONTRIBUTING.md, "Where tests live"."""
