"""Calls sys.exit(3) at import, as a careless plugin might."""

import sys

sys.exit(3)
