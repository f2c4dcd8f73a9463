"""Sealed bags and their capture logs in; schedules, a capture history, change reports and
audits out."""
