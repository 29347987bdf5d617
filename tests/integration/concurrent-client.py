"""Opens N connections to 127.0.0.1:PORT at once, sends one request on each (a JSON POST to
PATH), and prints a JSON summary: how many got a 200, how many failed (and why), the distinct
pids the answers name, and the seconds it all took."""
import asyncio
import json
import sys
import time

port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60


async def one(i, results):
    body = json.dumps({"n": i}).encode()
    req = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (path.encode(), len(body))) + body
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        w.write(req)
        await w.drain()
        data = await r.read()
        w.close()
        head, _, payload = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            results["failed"].append(head[:40].decode("latin-1") or "empty")
            return
        doc = json.loads(payload)
        if doc.get("echo", {}).get("n") != i:
            results["failed"].append("wrong body")
            return
        results["ok"] += 1
        results["pids"].add(doc["pid"])
    except Exception as e:  # noqa: BLE001 -- every failure is counted, by kind
        results["failed"].append(type(e).__name__)


async def main():
    results = {"ok": 0, "failed": [], "pids": set()}
    start = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(one(i, results) for i in range(n))), timeout)
    elapsed = time.monotonic() - start
    print(json.dumps({"ok": results["ok"], "failed": len(results["failed"]),
                      "why": sorted(set(results["failed"]))[:5],
                      "pids": sorted(results["pids"]), "seconds": round(elapsed, 2)}))


asyncio.run(main())
