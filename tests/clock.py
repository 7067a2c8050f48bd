"""The suite's clock: every in-process test runs at the same fixed instant (see conftest), so
"today" never turns over mid-test and no result depends on the day the suite runs."""

from __future__ import annotations

import datetime as dt

# A Wednesday, far from the explicit dates tests use (2025-02 fetches, 2025-03-25 editions);
# noon UTC, so every time zone a test uses is on the same calendar day but the +13/+14 ones.
NOW = dt.datetime(2025, 6, 11, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
