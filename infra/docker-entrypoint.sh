#!/bin/sh
# Container entrypoint for the Data Sandbox image.
#
# Secrets reach the container as files (Compose / Docker secrets under
# /run/secrets), never as values written into compose.yaml. For every
# SANDBOX_<NAME>_FILE variable this exports SANDBOX_<NAME> with the file's
# content (the convention of the official postgres image), removes the
# *_FILE variable, then runs the command unchanged: `sandbox serve ...` for
# the API, `sandbox worker`, `sandbox admin migrate`, `sandbox-bootstrap`,
# `sandbox-backup`, `ray start ...` for Ray nodes. Kubernetes must set `args`
# (not `command`) and compose `command` (not `entrypoint`), or this is skipped.
set -eu

for file_var in $(env | sed -n 's/^\(SANDBOX_[A-Z0-9_]*_FILE\)=.*/\1/p'); do
    var="${file_var%_FILE}"
    eval "path=\${$file_var}"
    eval "already=\${$var+set}"
    if [ "${already:-}" = "set" ]; then
        echo "entrypoint: both $var and $file_var are set; keep only one" >&2
        exit 64
    fi
    if [ ! -r "$path" ]; then
        echo "entrypoint: $file_var names $path, which this user ($(id -u)) cannot read" >&2
        exit 66
    fi
    value="$(cat "$path")"
    export "$var=$value"
    unset "$file_var"
done

exec "$@"
