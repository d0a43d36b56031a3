"""Load generator for ``bench_webhook``, run as its own process: raw HTTP/1.1 keep-alive over asyncio.

    python -m bench.webhook_client paced HOST PORT FILE RATE CONNECTIONS
    python -m bench.webhook_client closed HOST PORT FILE CONNECTIONS SECONDS

FILE holds complete pre-signed requests separated by ``|`` (a byte a form body or a
Twilio signature never contains), so this process only writes bytes and reads answers.

- ``paced`` is open-loop: request i is due at ``start + i / RATE`` whatever happened to
  the others, and its latency is counted from that due time (a slow server cannot make
  the client wait and hide its queue: no coordinated omission).
- ``closed`` keeps CONNECTIONS requests in flight for SECONDS (the fallback for the
  saturating run when ``wrk`` is not installed).

Prints one JSON line: latencies (ms) or the count, and how many answers were not a 200
``<Dial>`` document.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


def load_requests(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        return [r for r in f.read().split(b"|") if r]


# What a good answer holds: the incoming webhook's ``<Dial>``; None (``--expect any``): any 2xx.
EXPECT: bytes | None = b"<Dial"


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bool:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    if EXPECT is None:
        return head.startswith(b"HTTP/1.1 2")
    return head.startswith(b"HTTP/1.1 200") and EXPECT in body


async def paced(host: str, port: int, requests: list[bytes], rate: float, connections: int) -> dict:
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    latencies: list[float] = []
    bad = 0

    async def one(request: bytes, due: float) -> None:
        nonlocal bad
        reader, writer = await pool.get()
        try:
            ok = await _exchange(reader, writer, request)
        except (OSError, asyncio.IncompleteReadError):
            ok = False
            reader, writer = await asyncio.open_connection(host, port)
        latencies.append((time.perf_counter() - due) * 1000)
        bad += not ok
        pool.put_nowait((reader, writer))

    loop = asyncio.get_running_loop()
    start = time.perf_counter() + 0.05
    tasks = []
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return {"latencies_ms": latencies, "bad": bad, "achieved_rate": len(latencies) / elapsed}


async def closed(host: str, port: int, requests: list[bytes], connections: int, seconds: float) -> dict:
    deadline = time.perf_counter() + seconds
    cursor = iter(requests)
    done = bad = 0

    async def worker() -> None:
        nonlocal done, bad
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            request = next(cursor, None)
            if request is None:
                return
            ok = await _exchange(reader, writer, request)
            done += 1
            bad += not ok
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return {"requests": done, "bad": bad, "seconds": time.perf_counter() - start}


def main(argv: list[str]) -> None:
    global EXPECT
    if "--expect" in argv:
        at = argv.index("--expect")
        EXPECT = None if argv[at + 1] == "any" else argv[at + 1].encode()
        argv = argv[:at] + argv[at + 2:]
    mode, host, port, path = argv[0], argv[1], int(argv[2]), argv[3]
    requests = load_requests(path)
    if mode == "paced":
        result = asyncio.run(paced(host, port, requests, float(argv[4]), int(argv[5])))
    else:
        result = asyncio.run(closed(host, port, requests, int(argv[4]), float(argv[5])))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
