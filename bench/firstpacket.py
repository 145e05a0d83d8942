#!/usr/bin/env python3
"""First-packet-to-delivery latency of a tunnel that does not exist yet.

    firstpacket.py recv ADDR PORT OUTFILE   # in the receiving namespace
    firstpacket.py send ADDR PORT           # in the sending namespace

The sender sends one UDP datagram carrying its send time (CLOCK_REALTIME, shared
by all namespaces of the machine); the receiver writes arrival - send in ms to
OUTFILE, or "lost" if nothing arrives within 10 s. One datagram, no retries: a
tunnel that loses its first packet while it is being set up shows as lost."""
import socket
import struct
import sys
import time


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "recv":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, port))
        s.settimeout(10)
        print("ready", flush=True)
        try:
            data, _ = s.recvfrom(64)
            ms = (time.time_ns() - struct.unpack("!Q", data[:8])[0]) / 1e6
            out = "%.2f" % ms
        except socket.timeout:
            out = "lost"
        with open(sys.argv[4], "w") as f:
            f.write(out + "\n")
        return 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(struct.pack("!Q", time.time_ns()) + b"first", (addr, port))
    # stay idle while the tunnel is made: on a small machine the interpreter's
    # own exit would otherwise compete for the cores the two VPN daemons need
    # (a real first packet comes from another host on the LAN)
    time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
