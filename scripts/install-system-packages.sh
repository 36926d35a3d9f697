#!/usr/bin/env bash
# Installs the Debian/Ubuntu system packages some tests and tools need, and nothing else:
#   slurmctld slurmd slurm-client munge   the one-node Slurm cluster of scripts/slurm-local-cluster.sh, which the
#                                         Slurm sweep test (test/slurm-sweep.test.ts) runs a real sweep through;
#   chromium                              the browser test of the HTML report (/usr/bin/chromium).
# Idempotent and quick: when every package is already installed it only asks dpkg (well under a second) and exits.
# `apt-get update` is run only when a package is missing, and only once. Needs root (or sudo) for the install.
#
# Usage: scripts/install-system-packages.sh            install what is missing
#        scripts/install-system-packages.sh --check    exit 1 (listing them) if any are missing; install nothing
set -euo pipefail

PACKAGES=(slurmctld slurmd slurm-client munge chromium)

is_installed() {
  # "install ok installed" is dpkg's state for a fully configured package; a half-installed one does not count.
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-system-packages: this script needs a Debian-based system (dpkg/apt-get)." >&2
  echo "Install these packages with your system's package manager instead: ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-packages: all installed (${PACKAGES[*]})"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "install-system-packages: missing: ${missing[*]} (run scripts/install-system-packages.sh as root)" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
    echo "install-system-packages: missing ${missing[*]}; rerun as root (no sudo here)." >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg (unattended upgrades, a parallel CI step) may hold the dpkg lock: wait for it instead of failing.
APT=(apt-get -o DPkg::Lock::Timeout=600)
echo "install-system-packages: installing ${missing[*]}"
# Try without `apt-get update` first: on a machine whose package lists are fresh enough it saves the download.
if ! "${SUDO[@]}" "${APT[@]}" install -y --no-install-recommends "${missing[@]}"; then
  echo "install-system-packages: install failed with the current package lists; running apt-get update once"
  "${SUDO[@]}" "${APT[@]}" update
  "${SUDO[@]}" "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
fi

still=()
for p in "${missing[@]}"; do is_installed "$p" || still+=("$p"); done
if [ "${#still[@]}" -ne 0 ]; then
  echo "install-system-packages: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
echo "install-system-packages: done"
