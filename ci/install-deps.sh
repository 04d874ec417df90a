#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages csd builds and tests with. Idempotent:
# packages already present are skipped, and apt-get runs only when something
# is missing. Works on Debian 12 and Ubuntu 24.04 as root (or with sudo).
#   ci/install-deps.sh [--build-only]
# --build-only: only what building csd and running it needs, not the tools
# of its own tests and lint (the GitHub Action, ci/action-steps.sh).
set -euo pipefail
build_only=""
case ${1:-} in
  --build-only) build_only=yes ;;
  "") ;;
  *) echo "usage: ci/install-deps.sh [--build-only]" >&2; exit 2 ;;
esac

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: needs root or sudo to apt-get install" >&2; exit 2; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

# Boost.Process v2 needs Boost >= 1.80: Debian 12 ships it as libboost1.81-dev
# (its default libboost-dev is 1.74), Ubuntu 24.04's default libboost-dev is 1.83.
boost_pkg() {
  if apt-cache show libboost1.81-dev >/dev/null 2>&1; then echo libboost1.81-dev; else echo libboost-dev; fi
}

base=(build-essential cmake ninja-build pkg-config git ca-certificates
      googletest libgtest-dev libgmock-dev
      libpcap-dev nlohmann-json3-dev libcli11-dev libfmt-dev
      clang clang-format clang-tidy
      iproute2 procps python3
      nftables   # csd-suite --network 'loss N%': an nft rule drops on input (tc, for rate: iproute2)
      iptables libnetfilter-queue-dev   # --network 'delay D' without netem: NFQUEUE, csd-netdelay
      tcpdump   # the decoder's and the ladder's tests compare with tcpdump -r (capture_decode, wire)
      socat ncat   # third-party echo servers the suite validates (fixtures/impls/third-party)
      libxml2-utils   # xmllint: csd-report's JUnit XML against junit.xsd; ladder SVGs well-formed
      python3-cram   # cram runs the docs' console examples (ci/doctest.py, ctest Docs.*)
      dpkg-dev file  # cpack -G DEB: dpkg-shlibdeps computes Depends, on what `file` calls ELF
      groff-base   # groff: ci/help-test.sh reads the man pages the build makes
      stress-ng)   # the CPU hog of ci/load-run.sh: the tests run K times on a loaded machine

if [ -n "$build_only" ]; then
  base=(build-essential cmake ninja-build pkg-config ca-certificates
        googletest libgtest-dev libgmock-dev
        libpcap-dev nlohmann-json3-dev libcli11-dev libfmt-dev
        iproute2 procps)
fi

missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

mapfile -t need < <(missing "${base[@]}")
if ! dpkg-query -W -f='${Status}' libboost1.81-dev 2>/dev/null | grep -q 'install ok installed'; then
  # Only consult apt for the Boost choice when 1.81 is not already there.
  compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || "${sudo_cmd[@]}" apt-get update -qq
  bp=$(boost_pkg)
  mapfile -t -O "${#need[@]}" need < <(missing "$bp")
fi

# chromium: headless, to open csd-report's report.html in a test
# (html_report_test.cpp). Ubuntu ships it only as a snap (its deb is a
# transitional package that needs snapd, which a container lacks): there the
# browser test skips, saying so, rather than the install failing.
if [ -z "$build_only" ] && [ -n "$(missing chromium)" ]; then
  compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || "${sudo_cmd[@]}" apt-get update -qq
  if apt-cache show chromium 2>/dev/null | grep -q '^Depends:.*snapd'; then
    echo "install-deps: chromium comes only as a snap here; the HTML report's browser test will skip"
  else
    need+=(chromium)
  fi
fi

if [ "${#need[@]}" -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing ${need[*]}"
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-deps: done"
