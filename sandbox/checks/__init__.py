"""Automatic disclosure checks of a job's output, run in a child process."""
