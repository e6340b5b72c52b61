"""The HTTP side: the ``/v1`` API and the review console ``/console``, in one app.

Map:

- :mod:`sandbox.web.app` — :func:`~sandbox.web.app.create_app`, the app factory above both parts.
- :mod:`sandbox.web.api` — the JSON API (routes, schemas, its error answers).
- :mod:`sandbox.web.console` — the bureau's server-rendered review console.
- :mod:`sandbox.web.errors` — the HTTP status of each error of :mod:`policies.errors`.
- :mod:`sandbox.web.deps` — request dependencies both parts use (the service, the caller).
- :mod:`sandbox.web.params` — ids bounded to what the store holds.
- :mod:`sandbox.web.hardening` — headers and last-resort error pages on every answer, the docs.

``api`` and ``console`` never import each other; what both need lives beside them.
"""
