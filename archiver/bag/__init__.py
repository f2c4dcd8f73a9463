"""BagIt 1.0: build, read and validate bags; the writer and the sealed-bag reader mirror each other.

Takes in payload files and their digests (from run); hands on a sealed bag, and for any bag a
report of every problem (validate) or its tag files (reader).

``writer`` seals (its staging folder and crash journal are ``journal``); ``reader`` reads a
sealed bag back; ``validate`` checks any bag, with its manifest checks in ``manifestcheck``.
"""
