"""Jobs on the service side: :mod:`~sandbox.jobs.submit` (policy, budget, the answer
cache), :mod:`~sandbox.jobs.execute` (worker pools, the run, the checks, the report),
:mod:`~sandbox.jobs.lifecycle` (the one writer of a job's status, recovery, what each
role sees), :mod:`~sandbox.jobs.facts` (the catalog's facts as one frozen value) and
:mod:`~sandbox.jobs.service` (the :class:`~sandbox.jobs.service.JobService` facade)."""
