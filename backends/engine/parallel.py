"""Reading large inputs on every core, with results identical to a single reader.

The input is cut into byte ranges at line starts (:func:`~.sources.split_ranges`); each worker process
reads its share of the ranges into its own correlation state. A (window, group) whose events all fell
to one worker is complete there, so that worker evaluates it; only groups seen by several workers
travel to the parent, which merges their states exactly (see :mod:`.accumulators`) and evaluates
them. The exchange has two steps::

    worker -> parent   the keys of the groups it holds (small), its rule matches and input report
    parent -> worker   the keys that more than one worker holds
    worker -> parent   alerts of the groups only it holds, and the state of the shared ones

Shipping whole states instead costs more than reading the file: unpickling millions of small
objects is single-threaded. For the same reason alerts travel as their JSON lines with their sort keys
(:func:`~.alerts.ship`), which the parent merges and writes as they came.

The cyclic garbage collector is paused while a process reads and evaluates (:func:`collector_paused`):
the hot path makes no reference cycles, and each collection would walk the whole correlation state.
"""

from __future__ import annotations

import gc
import multiprocessing
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from operator import itemgetter
from typing import Any

from .alerts import Alert, CorrelationAlert, Shipped, ship, unship
from .correlation import Store, merge_stores
from .input_report import InputReport
from .sources import Source

Task = tuple[Source, int, int | None]
GroupKeys = list[set[tuple[int, tuple[str, ...]]]]  # per plan: (window, group) keys

_RULES: Any = None  # the parent's CompiledRules, inherited by the forked workers (never pickled)
SortKey = tuple  # (window start, order without the window): the order alerts are emitted in


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: what exists is frozen (moved out of the generations the
    collector walks, which also keeps forked workers from touching, and so copying, the parent's
    pages) and collection is disabled; both are restored after. Reference counting still frees
    everything the hot path drops; cycles made meanwhile wait for the next collection."""
    enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def sort_key(alert: CorrelationAlert) -> SortKey:
    return alert.window_start_us, alert.order[1:]


@dataclass
class WorkerReport:
    """A worker's first answer: what it holds and what it saw."""

    keys: GroupKeys
    matches: list[tuple[int, list[Shipped | Alert]]]  # per task index, in input order
    report: InputReport
    events_matched: int


@dataclass
class WorkerResult:
    """A worker's second answer: alerts of the groups only it held, and the states of shared groups."""

    alerts: list[tuple[SortKey, Shipped | Alert]]
    shared: list[Store]


def run_parallel(
    rules: Any,
    tasks: Sequence[Task],
    report: InputReport,
    workers: int,
    emit: Callable[[Alert], None],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Read ``tasks`` on ``workers`` processes; emit rule matches in input order, then correlation
    alerts in (window, rule, group) order. Returns the number of events that matched a rule.
    ``progress`` gets the bytes all workers have read, while they read."""
    global _RULES
    _RULES = rules
    context = multiprocessing.get_context("fork")
    shares = _balance(tasks, workers)
    # one slot per worker, written only by that worker: no lock
    bytes_read = context.Array("q", len(shares), lock=False)
    connections: list[Connection] = []
    processes = []
    try:
        for slot, share in enumerate(shares):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_worker, args=(child_end, share, report.fork(), bytes_read, slot), daemon=True
            )
            process.start()
            child_end.close()
            connections.append(parent_end)
            processes.append(process)

        if progress is not None:
            _report_progress(connections, bytes_read, progress)
        first: list[WorkerReport] = [_receive(connection) for connection in connections]
        holders: list[dict[tuple, int]] = [{} for _ in rules.plans]
        for answer in first:
            for plan_index, keys in enumerate(answer.keys):
                counts = holders[plan_index]
                for key in keys:
                    counts[key] = counts.get(key, 0) + 1
        # a sliding window's states need their neighbours: the parent evaluates all of them
        shared = [
            set(counts) if plan.needs_neighbours else {key for key, count in counts.items() if count > 1}
            for plan, counts in zip(rules.plans, holders, strict=True)
        ]
        for connection in connections:
            connection.send(shared)
        second: list[WorkerResult] = [_receive(connection) for connection in connections]
    finally:
        for connection in connections:
            connection.close()
        for process in processes:
            process.join()
        _RULES = None

    matches = sorted(
        ((task, alerts) for answer in first for task, alerts in answer.matches), key=itemgetter(0)
    )
    for _, task_matches in matches:
        for alert in task_matches:
            emit(unship(alert))
    for answer in first:
        report.merge(answer.report)

    from .runner import Scan  # the parent evaluates the shared groups with an empty reader

    merged = Scan(rules, report, emit)
    for result in second:
        for mine, theirs in zip(merged.stores, result.shared, strict=True):
            merge_stores(mine, theirs)
    alerts = [(key, unship(alert)) for result in second for key, alert in result.alerts]
    alerts.extend((sort_key(alert), alert) for alert in merged.complete())
    alerts.sort(key=itemgetter(0))  # stable: the order of a single reader's sort
    for _, alert in alerts:
        emit(alert)
    return sum(answer.events_matched for answer in first)


def _report_progress(connections: list[Connection], bytes_read: Any, progress: Callable[[int], None]) -> None:
    """Until every worker has answered (or failed), pass on the bytes they have read, a few times a second."""
    waiting = list(connections)
    while waiting:
        ready = set(wait(waiting, timeout=PROGRESS_INTERVAL))
        waiting = [connection for connection in waiting if connection not in ready]
        progress(sum(bytes_read))


PROGRESS_INTERVAL = 0.25  # seconds


def _worker(
    connection: Connection, share: list[tuple[int, Task]], report: InputReport, bytes_read: Any, slot: int
) -> None:
    def publish(count: int) -> None:
        bytes_read[slot] = count

    try:
        with collector_paused():
            _work(connection, share, report, publish)
    except BaseException:
        connection.send(_WorkerFailure(traceback.format_exc()))
    finally:
        connection.close()


def _work(
    connection: Connection, share: list[tuple[int, Task]], report: InputReport, publish: Callable[[int], None]
) -> None:
    from .runner import Scan

    by_task: dict[int, list[Shipped | Alert]] = {}
    scan = Scan(_RULES, report, lambda alert: None)
    scan.progress = publish
    for index, (source, start, end) in share:
        current = by_task.setdefault(index, [])
        scan.emit = lambda alert, current=current: current.append(ship(alert))
        scan.read(source, start, end)
    keys = [
        {(window, group) for window, groups in store.items() for group in groups} for store in scan.stores
    ]
    connection.send(WorkerReport(keys, list(by_task.items()), scan.report, scan.events_matched))
    shared: GroupKeys = connection.recv()
    shared_states: list[Store] = []
    for plan_index, store in enumerate(scan.stores):
        mine: Store = {}
        for key in shared[plan_index]:
            window, group = key
            state = store.get(window, {}).pop(group, None)
            if state is not None:
                mine.setdefault(window, {})[group] = state
        shared_states.append(mine)
    alerts = [(sort_key(alert), ship(alert)) for alert in scan.complete()]
    connection.send(WorkerResult(alerts, shared_states))


@dataclass
class _WorkerFailure:
    traceback: str


def _receive(connection: Connection) -> Any:
    try:
        answer = connection.recv()
    except EOFError as error:
        raise RuntimeError("a worker process ended without an answer") from error
    if isinstance(answer, _WorkerFailure):
        raise RuntimeError(f"a worker process failed:\n{answer.traceback}")
    return answer


def _balance(tasks: Sequence[Task], workers: int) -> list[list[tuple[int, Task]]]:
    """Give each worker about the same number of bytes (largest ranges first); unsized ranges count 1."""
    shares: list[list[tuple[int, Task]]] = [[] for _ in range(min(workers, len(tasks)))]
    loads = [0] * len(shares)

    def size(task: Task) -> int:
        _, start, end = task
        return (end - start) if end is not None else 1

    for index, task in sorted(enumerate(tasks), key=lambda item: -size(item[1])):
        lightest = loads.index(min(loads))
        shares[lightest].append((index, task))
        loads[lightest] += size(task)
    for share in shares:
        share.sort()
    return shares
