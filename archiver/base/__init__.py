"""Shared basics every stage uses: errors, problems, times, hashing, files, settings, facts.

Takes in nothing from the pipeline; hands on small helpers that know no stage.
"""
