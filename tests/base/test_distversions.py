"""Library versions, as the installed packages say; a name not installed is left out."""

from __future__ import annotations

import requests
import urllib3

from archiver.bag.summary import LIBRARIES
from archiver.base.distversions import versions


def test_installed_libraries_are_named_with_their_versions_and_missing_ones_left_out() -> None:
    found = versions((*LIBRARIES, "no-such-distribution-here"))
    assert found["requests"] == requests.__version__
    assert found["urllib3"] == urllib3.__version__
    assert set(found) == set(LIBRARIES)  # every shipped library is installed here
