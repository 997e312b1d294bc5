#!/usr/bin/env python3
"""Idle keep-alive clients for bench/*/run.sh: what an idle viewer costs a server.

Opens N keep-alive connections to URL, in batches of 100 (--batch), sends one GET on each and reads
its whole response (Content-Length), then keeps every connection open and idle. Prints
"READY <n>" on stdout once all N have their answer, then holds them until SIGTERM/SIGINT or
--hold seconds pass (a bound, so it never outlives its benchmark), and closes them. A connection that fails is an error: exit status 1 with the reason.

usage: idle_clients.py URL N [--hold SECONDS] [--batch N]
"""
import argparse
import selectors
import signal
import socket
import sys
import time
import urllib.parse


def fetch_batch(host, port, path, count, deadline):
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    pending = {}
    for _ in range(count):
        s = socket.create_connection((host, port), timeout=10)
        s.setblocking(False)
        s.sendall(request)
        pending[s] = bytearray()
        sel.register(s, selectors.EVENT_READ)
    done = []
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} responses missing at the deadline")
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed a connection before answering")
            buf = pending[s]
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = buf[:end].decode("latin-1")
            status = int(head.split(" ", 2)[1])
            if status != 200:
                raise RuntimeError(f"status {status}: {head.splitlines()[0]}")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(buf) - end - 4 >= length:
                sel.unregister(s)
                del pending[s]
                done.append(s)
    sel.close()
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("n", type=int)
    ap.add_argument("--hold", type=float, default=300)
    ap.add_argument("--batch", type=int, default=100, help="connections opened at once")
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.url)
    path = u.path or "/"
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    held = []
    try:
        deadline = time.monotonic() + 120
        while len(held) < args.n:
            held += fetch_batch(u.hostname, u.port, path, min(args.batch, args.n - len(held)),
                                deadline)
        print(f"READY {len(held)}", flush=True)
        end = time.monotonic() + args.hold
        while not stop["now"] and time.monotonic() < end:
            time.sleep(0.1)
    except Exception as e:  # one line naming the problem
        print(f"idle_clients: {e}", file=sys.stderr)
        return 1
    finally:
        for s in held:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
