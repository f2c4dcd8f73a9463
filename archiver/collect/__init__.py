"""Documents and collections in; cited URLs and their citations out: what to capture."""
