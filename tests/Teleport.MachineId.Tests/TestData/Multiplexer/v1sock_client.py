#!/usr/bin/env python3
"""An independent client of tbot's ssh-multiplexer v1.sock protocol (Python standard library only).

Written from tbot's documented protocol, not from this repository's code:
  1. connect to the Unix socket <dir>/v1.sock;
  2. send "host:port|cluster" (the "|cluster" part optional) followed by a NUL byte; the first
     sendmsg may carry one file descriptor (SCM_RIGHTS), the client's stderr, where the
     multiplexer writes dial errors;
  3. the multiplexer sends no reply; from now on the socket is a raw pipe to the node's SSH server.

Modes:
  relay <socket> <target>     a ProxyCommand without descriptor passing: stdin -> socket -> stdout
  probe <socket> <hex bytes>  send raw request bytes with a pipe as "stderr"; print JSON with what
                              the pipe received and whether the multiplexer closed the socket
"""
import json
import os
import select
import socket
import sys
import threading


def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def relay(path, target):
    sock = connect(path)
    socket.send_fds(sock, [target.encode("utf-8") + b"\0"], [2])

    def upstream():
        while True:
            data = os.read(0, 65536)
            if not data:
                sock.shutdown(socket.SHUT_WR)
                return
            sock.sendall(data)

    threading.Thread(target=upstream, daemon=True).start()
    while True:
        data = sock.recv(65536)
        if not data:
            break
        os.write(1, data)


def probe(path, request_hex):
    sock = connect(path)
    read_end, write_end = os.pipe()
    socket.send_fds(sock, [bytes.fromhex(request_hex)], [write_end])
    os.close(write_end)
    sock.settimeout(20)
    try:
        data = sock.recv(4096)
        closed = data == b""
    except socket.timeout:
        data, closed = b"", False
    ready, _, _ = select.select([read_end], [], [], 20)
    error = os.read(read_end, 65536).decode("utf-8", "replace") if ready else None
    print(json.dumps({"closed": closed, "received": data.decode("latin-1"), "stderr": error}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "relay":
        relay(sys.argv[2], sys.argv[3])
    elif mode == "probe":
        probe(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown mode " + mode)
