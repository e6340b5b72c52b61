"""The hash-chained, keyed audit log, its anchors and the auditors' view (art. 39)."""
