"""`archiver run`: plan, capture, clean, seal, attest, resumable after a crash at any point.

Takes in the operator's sources and options; hands on a sealed (and anchored) bag, with the
stages below doing the work and this package only ordering them, saving state to resume.
"""
