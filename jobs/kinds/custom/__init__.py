"""Operator code, run jailed and always reviewed."""
