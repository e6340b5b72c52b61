#!/bin/sh
# Collect every Python package the image needs into a wheelhouse, on a machine
# with internet, for an offline build (infra/README.md, "Offline builds").
#
# Run it inside the image's base so the wheels match its Python (3.11) and
# platform (Linux, glibc, this CPU architecture), from the repository root:
#
#   docker run --rm -v "$PWD":/src -w /src python:3.11-slim-trixie sh infra/wheelhouse.sh
#
# Then carry ./wheelhouse (and the repository) to the build machine and build
# with --build-arg OFFLINE=1 --build-context wheelhouse=./wheelhouse.
#
#   WHEELHOUSE      output folder (default ./wheelhouse)
#   RAY_VERSION     default: the Dockerfile's ARG
#   TORCH_VERSION   default: the Dockerfile's ARG
set -eu

cd "$(dirname "$0")/.."
out="${WHEELHOUSE:-wheelhouse}"
arg() { sed -n "s/^ARG $1=//p" infra/Dockerfile; }
ray_version="${RAY_VERSION:-$(arg RAY_VERSION)}"
torch_version="${TORCH_VERSION:-$(arg TORCH_VERSION)}"
mkdir -p "$out"

# The CPU build of torch, alone and from PyTorch's index: PyPI's Linux wheel
# would pull several GB of CUDA libraries. Its dependencies come next, from PyPI.
python -m pip download --no-deps --dest "$out" \
    --index-url https://download.pytorch.org/whl/cpu "torch==${torch_version}"

# Everything else as wheels (sdist-only packages are built into wheels here),
# resolved with the CPU torch above (2.x+cpu satisfies ==2.x), plus the build
# backend that pip needs to build the project itself offline.
# The service requires data-sandbox-client, built from ./packaging/client beside it.
python -m pip wheel --wheel-dir "$out" --find-links "$out" \
    ./packaging/client . "ray[client]==${ray_version}" "setuptools>=77" wheel

# The project's two distributions are built from the source in the image, never taken from here.
rm -f "$out"/data_sandbox-*.whl "$out"/data_sandbox_client-*.whl
if ls "$out"/nvidia_* >/dev/null 2>&1; then
    echo "wheelhouse: CUDA wheels were pulled in; the torch in $out is not the CPU build" >&2
    exit 1
fi
echo "wheelhouse: $(ls "$out" | wc -l) files in $out" >&2
