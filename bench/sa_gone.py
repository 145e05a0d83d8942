#!/usr/bin/env python3
"""How long after a command starts a device's CHILD SA with a peer is gone.

    sa_gone.py SOCKET PEER CMD...

Checks that odvpnd at control socket SOCKET holds a CHILD SA with PEER, starts
CMD (e.g. an `odvpn admin` withdrawal at the center), and asks odvpnd for its
status (`{"cmd":"status"}`, the request `odvpn status --json` makes) every
5 ms until no CHILD SA with PEER is left, or 5 s have passed. Prints one line:

    START_NS GONE_MS CMD_MS

START_NS: CLOCK_REALTIME when CMD was started (the clock odvpnd and the center
stamp their log lines with); GONE_MS: ms until the SA was seen gone, or
"timeout"; CMD_MS: how long CMD ran. Exit 2 if there was no SA to begin with.
One process polls over the socket instead of one `odvpn status` per poll, so
the poller does not take the cores the daemons need."""
import json
import socket
import subprocess
import sys
import time

POLL_S = 0.005
LIMIT_S = 5.0


def has_sa(path, peer):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'{"cmd":"status"}\n')
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    st = json.loads(data)
    return any(c.get("peer") == peer for c in st.get("child_sas", []))


def main():
    path, peer, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not has_sa(path, peer):
        print("no CHILD SA with %s to begin with" % peer, file=sys.stderr)
        return 2
    t0 = time.time_ns()
    m0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gone = "timeout"
    cmd_ms = None
    while time.monotonic() - m0 < LIMIT_S:
        if cmd_ms is None and proc.poll() is not None:
            cmd_ms = (time.monotonic() - m0) * 1e3
        if not has_sa(path, peer):
            gone = "%.1f" % ((time.monotonic() - m0) * 1e3)
            break
        time.sleep(POLL_S)
    proc.wait()
    if cmd_ms is None:
        cmd_ms = (time.monotonic() - m0) * 1e3
    print("%d %s %.1f" % (t0, gone, cmd_ms))
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
