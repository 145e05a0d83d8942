#!/bin/sh
# The README's two commands:
#   ./quickstart.sh demo   install, build, run the live demo (odvpn demo)
#   ./quickstart.sh test   install, build (release + ASan/UBSan + fuzzers), run the whole suite
set -eu
cd "$(dirname "$0")"
case "${1:-}" in
demo)
	scripts/install-deps.sh
	make -j"$(nproc)" all
	exec build/odvpn demo
	;;
test)
	scripts/install-deps.sh
	exec make test
	;;
*)
	echo "usage: $0 demo|test" >&2
	exit 2
	;;
esac
