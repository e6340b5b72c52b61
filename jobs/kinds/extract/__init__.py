"""Anonymized row extracts (k-anonymity, l-diversity, art. 37)."""
