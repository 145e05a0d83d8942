#!/bin/sh
# Installs every Debian package odvpn needs to build, run its demo and run its
# whole test suite (including the peers it is tested and benchmarked against).
# Debian 12, as root. Safe to run again.
set -eu
[ "$(id -u)" = 0 ] || { echo "install-deps: run as root" >&2; exit 1; }

# build and run
BUILD="build-essential pkg-config libssl-dev openssl libsqlite3-dev sqlite3
 libevent-dev libjansson-dev libcurl4-openssl-dev libnl-3-dev libnl-route-3-dev
 iproute2 iputils-ping nftables procps curl ca-certificates"
# tests: unit framework, fuzzers, the strongSwan interop peer, traffic tools
TEST="libcmocka-dev clang libclang-rt-14-dev
 strongswan-charon strongswan-swanctl strongswan-pki libcharon-extra-plugins
 libstrongswan-extra-plugins libstrongswan-standard-plugins
 iperf3 tcpdump netcat-openbsd python3 jq"
# benchmarks: the peers odvpn is measured against in the same run
BENCH="wireguard-go wireguard-tools nebula"

apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $BUILD $TEST $BENCH >/dev/null
echo "install-deps: all packages present"
