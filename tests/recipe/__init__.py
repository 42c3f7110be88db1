"""Recipes (seqkit/recipe/): loading, ranges and bounds, the size budget, validation."""
