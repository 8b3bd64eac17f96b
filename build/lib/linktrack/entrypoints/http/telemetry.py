"""Health and metrics: /healthz, /readyz and the Prometheus collector of this node.

The tracking routes count their answers in a plain dict (`Answered`), one
increment per request in the event loop's thread: 0.12 µs, where a
prometheus_client Counter child's `inc()` (a lock per call) takes 0.51 µs
(timeit, 2M calls, on the development machine). The collector turns the counts
into counters when scraped, and reads what lives in the store (the writer's
lag and rate, the delivery backlog) at most once per `STORE_EVERY` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from linktrack.adapters import store

if TYPE_CHECKING:
    from linktrack.bootstrap import Services

log = logging.getLogger(__name__)

ROUTES: Final = ("click", "open", "short")
STATUSES: Final = (200, 302, 404, 405, 503)
STORE_EVERY: Final = 10.0  # seconds: a scrape every few seconds must not load the store
CHECK_SECONDS: Final = 2.0  # a readiness check that takes longer has failed

Answered = dict[tuple[str, int], int]


def answered_counts() -> Answered:
    """Every (route, status) a tracking route answers, at 0: the hot path only adds."""
    return {(route, status): 0 for route in ROUTES for status in STATUSES}


class NodeCollector(Collector):
    """This node's answers and its click log's commits; the writer and the deliveries
    as the store has them (the same on every node)."""

    def __init__(self, services: Services, answered: Answered) -> None:
        self.services = services
        self.answered = answered
        self._stored: tuple[float, dict[str, Any], dict[str, int]] | None = None

    def collect(self) -> Iterator[Metric]:
        counts = CounterMetricFamily(
            "linktrack_answered",
            "Requests the tracking routes answered (click includes short links that resolved)",
            labels=["route", "status"],
        )
        for (route, status), n in list(self.answered.items()):
            counts.add_metric([route, str(status)], n)
        yield counts
        stats = getattr(self.services.event_log, "stats", None)  # the file log's
        commits = getattr(stats, "commit_seconds", None)
        if commits is not None:
            yield from commits.collect()
        writer, backlog = self._from_store()
        yield _gauge("linktrack_writer_lag_seconds",
                     "Age of the oldest click the writer has read but not stored",
                     writer.get("lag_seconds"))  # fmt: skip
        yield _gauge("linktrack_writer_events_per_second",
                     "Events the writer stored per second, over its last report",
                     writer.get("events_per_second"))  # fmt: skip
        state = GaugeMetricFamily("linktrack_writer_state", "1 for the writer's state",
                                  labels=["state"])  # fmt: skip
        state.add_metric([str(writer.get("state", "unknown"))], 1)
        yield state
        deliveries = GaugeMetricFamily(
            "linktrack_deliveries", "Deliveries waiting to be sent and failed", labels=["status"]
        )
        for name, n in backlog.items():
            deliveries.add_metric([name], n)
        yield deliveries

    def _from_store(self) -> tuple[dict[str, Any], dict[str, int]]:
        now = time.monotonic()
        if self._stored is None or now - self._stored[0] > STORE_EVERY:
            try:
                writer = self.services.writer_status()
                backlog = store.delivery_backlog(self.services.engine)
            except Exception as exc:  # the store is down: say so, keep the node's own counts
                writer, backlog = {"state": f"unknown: {type(exc).__name__}"}, {}
            self._stored = (now, writer, backlog)
        return self._stored[1], self._stored[2]


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    if value is not None:
        gauge.add_metric([], value)
    return gauge


async def readiness(services: Services) -> dict[str, str | None]:
    """Each check's failure (None: it passed): the store, the click log, the writer."""

    def writer() -> str | None:
        status = services.writer_status()
        if status["state"] in ("behind", "stalled"):
            return (f"the writer is {status['state']}: {status['lag_seconds']} s behind, "
                    f"last heard {status['heartbeat_age_seconds']} s ago")  # fmt: skip
        return None

    def reachable() -> str | None:
        store.ping(services.engine)
        return None

    checks = {"store": reachable, "event_log": services.event_log.health, "writer": writer}
    results: dict[str, str | None] = {}
    for name, check in checks.items():
        try:
            results[name] = await asyncio.wait_for(asyncio.to_thread(check), CHECK_SECONDS)
        except TimeoutError:
            results[name] = f"no answer within {CHECK_SECONDS:g} s"
        except Exception as exc:
            results[name] = f"{type(exc).__name__}: {exc}"[:300]
    return results


def serve_metrics(services: Services, answered: Answered) -> Any:
    """The Prometheus endpoint on `LINKTRACK_METRICS_ADDR` (host:port) in a thread of its
    own, off the public port; None when it is not configured. Returns its server."""
    addr = services.config.metrics_addr
    if not addr:
        return None
    host, _, port = addr.rpartition(":")
    registry = CollectorRegistry(auto_describe=True)
    registry.register(NodeCollector(services, answered))
    server, _thread = start_http_server(int(port), host.strip("[]") or "127.0.0.1",
                                        registry=registry)  # fmt: skip
    return server


_TLS_WARNED = [float("-inf")]  # when a client speaking TLS to this port was last logged


def tls_spoken(now: float) -> None:
    """uvicorn refuses the bytes as "Invalid HTTP request"; say why, once a minute."""
    if now - _TLS_WARNED[0] >= 60.0:
        _TLS_WARNED[0] = now
        log.warning(
            "a client spoke TLS (HTTPS) to this plain-HTTP port: put a TLS terminator "
            "(a reverse proxy) in front of linktrack, or have clients use http://"
        )
