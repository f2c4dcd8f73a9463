"""BagIt 1.0: build bags from digests recorded while writing, and validate any bag strictly.

``BagBuilder`` stages and seals bags (``writer``); ``validate_bag`` checks one against RFC 8493
and reports every problem (``validate``); ``check_profile`` checks a bag against a
bagit-profiles 1.4.0 profile (``profile``).
"""

from archiver.bag.profile import PROFILE_IDENTIFIER, check_profile
from archiver.bag.validate import BagReport, validate_bag
from archiver.bag.writer import BagBuilder

__all__ = ["PROFILE_IDENTIFIER", "BagBuilder", "BagReport", "check_profile", "validate_bag"]
