#!/bin/sh
# Runs the kernel matrix (make vm-test) from the repository root; arguments
# are the runner's flags, e.g. `vagrant/matrix.sh -kernels linux-image-6.12-amd64 -v`.
set -eu
cd "$(dirname "$0")/.."
exec "${GO:-go}" run ./vagrant/matrix "$@"
