"""The job kinds: aggregate, extract, train, custom."""
