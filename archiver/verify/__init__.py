"""A bag in; one VerifyReport composed from the stages' checkers (bag, WARC, log, anchors)."""
