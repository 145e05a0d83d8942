#!/bin/sh
# ESP encapsulation/decapsulation packets per second in one core (AES-256-GCM,
# ESN, replay window), for 64, 512 and 1400-byte inner packets.
#   bench/esp_micro.sh [SECONDS_PER_FIGURE]
cd "$(dirname "$0")/.." || exit 1
exec taskset -c 0 "${ODVPN_BUILD:-build}/tests/tools/dp_static" --micro "${1:-1}"
