#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages csd builds and tests with. Idempotent:
# packages already present are skipped, and apt-get runs only when something
# is missing. Works on Debian 12 and Ubuntu 24.04 as root (or with sudo).
set -euo pipefail

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
      tcpdump   # the decoder's tests compare with tcpdump -r (suite/unit/capture_decode_test.cpp)
      socat ncat   # third-party echo servers the suite validates (fixtures/impls/third-party)
      libxml2-utils   # xmllint: csd-report's JUnit XML against fixtures/junit/junit.xsd
      chromium   # headless, to open csd-report's report.html in a test (html_report_test.cpp)
      dpkg-dev file)  # cpack -G DEB: dpkg-shlibdeps computes Depends, on what `file` calls ELF

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

if [ "${#need[@]}" -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing ${need[*]}"
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-deps: done"
