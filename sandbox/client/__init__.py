"""Python client for analysts (Jupyter) and scripts; imports no server dependency.

>>> from sandbox.client import Client, count, mean        # doctest: +SKIP
>>> client = Client()             # SANDBOX_URL, SANDBOX_TOKEN  # doctest: +SKIP
>>> ds = client.dataset("residents")                      # doctest: +SKIP
>>> q = ds.query().group_by("city").agg(count(), mean("income", 0, 500_000))  # doctest: +SKIP
>>> q.run_on(ds.dummy(1000))       # exact, on made-up rows  # doctest: +SKIP
>>> job = q.epsilon(0.5).submit(purpose="income by city")  # doctest: +SKIP
>>> job.wait().status              # 'awaiting_review'     # doctest: +SKIP

Map: :mod:`sandbox.client.catalog` (:class:`Datasets`, :class:`Dataset`),
:mod:`sandbox.client.query` (the builder and the aggregate functions),
:mod:`sandbox.client.dummy` (dummy rows), :mod:`sandbox.client.local`
(a query on a local frame), :mod:`sandbox.client.dryrun` (any spec run locally
on dummy rows: ``client.dry_run(spec)``), :mod:`sandbox.client.models`
(predictions from a released model), :mod:`sandbox.client.results`
(:class:`Estimate`, :class:`Budget`), :mod:`sandbox.client.output` (a job's output
file and its readers, :class:`Table`), :mod:`sandbox.client.html` (Jupyter display),
:mod:`sandbox.client.verify` (trading-venue packages checked offline) and
:mod:`sandbox.client.cli` (the ``sandbox-client`` command).

Errors raised are the service's error tree (:mod:`policies.errors`): a
``BudgetExhausted`` on the server is a ``BudgetExhausted`` here, with the
server's message, which says what to do next.
"""

from sandbox.client.core import *  # noqa: F403  (the public names, listed in core.__all__)
from sandbox.client.core import __all__ as __all__
