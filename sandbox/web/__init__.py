"""The HTTP side: the ``/v1`` API and the review console ``/console``."""
