#!/bin/sh
# One backup into a new folder under the backup root, then pruning: the
# Kubernetes `sandbox-backup` CronJob and the compose `backup` service. In the
# image as `sandbox-backup`; run it through the image's entrypoint, which turns
# SANDBOX_*_FILE into SANDBOX_*.
#
#   BACKUP_ROOT   where backups go (default /backups, a volume of its own)
#   BACKUP_KEEP   how many of the newest backups to keep (default 14)
#
# `sandbox admin backup --to DIR` writes the snapshot (pg_dump of the database,
# the data folder, the signing-key fingerprint, a checksummed manifest) into a
# hidden sibling folder and renames it into place whole, so a folder named by a
# time stamp is a complete backup. The hidden leftovers of runs that died are
# removed here on a later run; a failed run prunes nothing.
set -eu

root="${BACKUP_ROOT:-/backups}"
keep="${BACKUP_KEEP:-14}"
case "$keep" in
    '' | *[!0-9]* | 0) echo "backup: BACKUP_KEEP must be a whole number of at least 1" >&2; exit 64 ;;
esac

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
sandbox admin backup --to "$root/$stamp"
echo "backup: written $root/$stamp" >&2

# Names are UTC time stamps, so name order is age order; the newest $keep stay.
for old in $(ls -1d "$root"/*Z 2>/dev/null | sort | head -n "-$keep") \
           $(ls -1d "$root"/.*Z.partial-* 2>/dev/null); do
    rm -rf -- "$old"
    echo "backup: removed $old" >&2
done
