"""Differentially private aggregates."""
