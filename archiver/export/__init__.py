"""Hand-off: a sealed bag in; WACZ for replay, bags for receiving repositories, receipts out."""
