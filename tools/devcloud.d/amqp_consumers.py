"""Wait until RabbitMQ queues have consumers (tools/devcloud readiness check).

    amqp_consumers.py URL [--timeout S] QUEUE...

An oslo.messaging RPC server is ready once its topic queue has a consumer.
A passive queue.declare answers with the consumer count without creating
anything.  Prints "QUEUE COUNT" per queue (-1: no such queue) and exits 0
when every queue has at least one consumer, 1 on timeout, 2 when the
broker cannot be reached.  --timeout 0 checks once (used by `status`).
"""

import argparse
import sys
import time

import kombu


def counts(conn, queues):
    result = {}
    for q in queues:
        ch = conn.channel()
        try:
            result[q] = ch.queue_declare(queue=q, passive=True).consumer_count
        except conn.channel_errors:
            result[q] = -1  # NOT_FOUND closes the channel
        finally:
            try:
                ch.close()
            except Exception:
                pass
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("queues", nargs="+")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()

    deadline = time.monotonic() + args.timeout
    conn = kombu.Connection(args.url, connect_timeout=3)
    try:
        conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        print(f"amqp: cannot connect to {args.url}: {exc}", file=sys.stderr)
        return 2
    with conn:
        while True:
            got = counts(conn, args.queues)
            ready = all(n > 0 for n in got.values())
            if ready or time.monotonic() >= deadline:
                break
            time.sleep(0.3)
    for q, n in got.items():
        print(q, n)
    return 0 if all(n > 0 for n in got.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
