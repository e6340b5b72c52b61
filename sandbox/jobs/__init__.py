"""sandbox.jobs: submission, execution and the life of a job in the service."""
