"""Datasets: ingest and uploads, public facts (noisy counts, keyed digests), PII scan."""
