#!/bin/sh
# First admin, safe to run on every start (the compose `bootstrap` service, the
# Kubernetes `sandbox-bootstrap` Job): in the image as `sandbox-bootstrap`.
#
# `sandbox admin bootstrap` creates the platform organisation and the first
# admin and prints the admin's token on stdout, once (it is stored hashed).
# When an admin exists it refuses ("bootstrapped already", exit 2); here that
# counts as success, so re-running this changes nothing and prints no token.
# Any other failure (database unreachable or not migrated, weak secret) keeps
# its message and exit code.
#
# Arguments go to `sandbox admin bootstrap` (e.g. --name admin --org platform).
# Run it through the image's entrypoint, which turns SANDBOX_*_FILE into
# SANDBOX_*.
set -u

errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
# Wide enough that the CLI's message is not wrapped inside the phrase below.
COLUMNS=200 sandbox admin bootstrap "$@" 2>"$errors"
status=$?
if [ "$status" -eq 0 ]; then
    cat "$errors" >&2
    echo "bootstrap: keep the token above in your password manager; it is not shown again" >&2
    exit 0
fi
if [ "$status" -eq 2 ] && grep -q "bootstrapped already" "$errors"; then
    echo "bootstrap: an admin exists already; nothing to do" >&2
    exit 0
fi
cat "$errors" >&2
exit "$status"
