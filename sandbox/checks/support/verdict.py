"""A check's verdict (its own module: the check base and the support modules both use it)."""

from typing import Literal

#: ``pass``: nothing found; ``warn``: the reviewer should look; ``fail``: blocks release.
Verdict = Literal["pass", "warn", "fail"]
