#!/usr/bin/env python3
"""tests/net/xfer.py: the host side of the network tests (link-local
addresses only; every loop is bounded in count and time).

  xfer.py send HOST PORT FILE       connect (retrying up to 120 s), send FILE, half-close,
                                    wait for the peer to close, print "sent N in S s"
  xfer.py recv HOST PORT NBYTES     listen on HOST:PORT, print "listening", accept one
                                    connection, read up to NBYTES (or EOF), print
                                    "received N sha256 HEX" and "received in S s"
  xfer.py poke HOST PORT            connect (retrying up to 120 s) and close
  xfer.py flood HOST PORT COUNT SIZE SECONDS
                                    send COUNT UDP datagrams of SIZE bytes, stop after SECONDS
"""
import hashlib
import socket
import sys
import time


def connect(host, port, deadline=120.0):
    end = time.monotonic() + deadline
    while True:
        try:
            return socket.create_connection((host, port), timeout=5)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "send":
        with open(sys.argv[4], "rb") as f:
            data = f.read()
        s = connect(host, port)
        s.settimeout(300)
        t0 = time.monotonic()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        s.close()
        print("sent %d in %.3f s" % (len(data), time.monotonic() - t0), flush=True)
    elif mode == "recv":
        want = int(sys.argv[4])
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port))
        ls.listen(1)
        ls.settimeout(300)
        print("listening", flush=True)
        s, _ = ls.accept()
        s.settimeout(300)
        t0 = time.monotonic()
        h, n = hashlib.sha256(), 0
        while n < want:
            b = s.recv(min(1 << 20, want - n))
            if not b:
                break
            h.update(b)
            n += len(b)
        s.close()
        dt = time.monotonic() - t0
        print("received %d sha256 %s" % (n, h.hexdigest()), flush=True)
        print("received in %.3f s" % dt, flush=True)
    elif mode == "poke":
        connect(host, port).close()
    elif mode == "flood":
        count, size, secs = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        end, sent, buf = time.monotonic() + secs, 0, b"x" * size
        while sent < count and time.monotonic() < end:
            try:
                s.sendto(buf, (host, port))
                sent += 1
            except OSError:
                time.sleep(0.001)
        print("flooded %d" % sent, flush=True)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
