"""Tests of archiver.keep."""
