#!/usr/bin/env python3
"""Re-send the IP packets of a pcap file as they were captured (raw socket,
IP_HDRINCL), optionally with one byte of the UDP payload flipped. Test-only: used
to replay or tamper with ESP packets on the WAN.

    pcap_replay.py FILE [--flip OFFSET]... [--count N]

OFFSET counts from the start of the UDP payload (ESP: 0 = first SPI byte)."""
import argparse
import socket
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack(endian + "IIII", rec)[2]
            data = f.read(incl)
            if linktype == 1:          # Ethernet
                data = data[14:]
            elif linktype == 113:      # Linux cooked
                data = data[16:]
            elif linktype == 276:      # Linux cooked v2
                data = data[20:]
            yield data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--flip", type=int, action="append", default=[])
    ap.add_argument("--count", type=int, default=1)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = 0
    for pkt in packets(a.pcap):
        if sent >= a.count:
            break
        if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != 17:
            continue
        ihl = (pkt[0] & 0xF) * 4
        pkt = bytearray(pkt)
        pkt[ihl + 6:ihl + 8] = b"\0\0"          # UDP checksum: none (IPv4)
        for off in a.flip:
            pkt[ihl + 8 + off] ^= 0x01
        dst = socket.inet_ntoa(bytes(pkt[16:20]))
        s.sendto(bytes(pkt), (dst, 0))
        sent += 1
    print(f"sent {sent}")
    return 0 if sent == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
