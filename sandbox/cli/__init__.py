"""The ``sandbox`` command and the end-to-end demonstration behind ``make demo``."""
