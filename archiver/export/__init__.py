"""Hand-off: a sealed bag in, formats other tools and repositories read out (WACZ, ...)."""
