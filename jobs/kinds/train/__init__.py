"""Differentially private model training."""
