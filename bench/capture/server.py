"""Benchmark origin servers: one asyncio HTTP/1.1 keep-alive server per loopback address.

Run as its own process so serving never competes with the capture for the GIL:

    python bench/capture/server.py --hosts 50 --latency 0.1

prints ``READY <port>`` when every address 127.0.0.1 .. 127.0.0.N listens on that port.
Paths: ``/page/<n>.html`` (an ~8 KB article), ``/robots.txt`` (allows everything),
``/big?size=N`` (N bytes streamed in 1 MiB writes). Every answer waits ``--latency`` seconds
first, as a distant server would.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import socket
import sys

_BLOCK = hashlib.sha256(b"bench").digest() * 32768  # 1 MiB


def page(path: str) -> bytes:
    paras = "\n".join(
        f"<p>Paragraph {i} of {path}: witnesses described the events of that week in detail, "
        f"and the record was checked against court documents and satellite images.</p>"
        for i in range(40)
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{path}</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><main><article><h1>{path}</h1>\n{paras}\n"
        f"</article></main><footer>footer</footer></body></html>\n"
    ).encode()


def head(status: str, ctype: str, length: int) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nServer: bench\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            close = False
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                if h.lower().startswith(b"connection:") and b"close" in h.lower():
                    close = True
            target = line.split()[1].decode()
            if latency:
                await asyncio.sleep(latency)
            if target == "/robots.txt":
                body = b"User-agent: *\nAllow: /\n"
                writer.write(head("200 OK", "text/plain", len(body)) + body)
            elif target.startswith("/big?size="):
                size = int(target.split("=", 1)[1])
                writer.write(head("200 OK", "application/octet-stream", size))
                sent = 0
                while sent < size:
                    n = min(len(_BLOCK), size - sent)
                    writer.write(_BLOCK[:n])
                    sent += n
                    await writer.drain()
            elif target.startswith("/page/"):
                body = page(target)
                writer.write(head("200 OK", "text/html; charset=utf-8", len(body)) + body)
            else:
                body = b"not found\n"
                writer.write(head("404 Not Found", "text/plain", len(body)) + body)
            await writer.drain()
            if close:
                break
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(hosts: int, latency: float) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    servers = []
    for i in range(1, hosts + 1):
        servers.append(
            await asyncio.start_server(
                lambda r, w: handle(r, w, latency), f"127.0.0.{i}", port, backlog=256
            )
        )
    print(f"READY {port}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--latency", type=float, default=0.1)
    args = ap.parse_args()
    try:
        asyncio.run(main(args.hosts, args.latency))
    except KeyboardInterrupt:
        sys.exit(0)
