"""De-identification of rows and scanning of outputs (art. 37).

Map of the package:

- :mod:`anonymize.scan` — find resident IDs and mobile numbers in a table
  (:func:`scan_frame`), used by the airlock's automatic checks.
- :mod:`anonymize.errors` — :class:`AnonymizationError`.

The full engine (Presidio recognizers for Chinese PII, transforms,
k-anonymity) grows here; see the design page.
"""

from anonymize.errors import AnonymizationError
from anonymize.scan import Finding, is_resident_id, scan_frame

__all__ = ["AnonymizationError", "Finding", "is_resident_id", "scan_frame"]
