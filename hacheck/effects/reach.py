"""Which effects a node's messages can reach: one backward search from all the effects of a
kind, so asking it for every source of a flow costs one pass over the graph, not one per source.

The search walks the message graph (wires, links, subflows) backwards from each effect and
keeps, for every vertex, the nearest K effects it reaches and the next step towards each.
A node that does not pass its input on (a dashboard widget without pass-through, a debug)
ends a path: what it sends comes from a user or from itself, not from the message that
arrived. The effect itself is reached whatever it does with the message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from hacheck.analysis.graph import SEP

K = 3  # effects kept per vertex, nearest first; a finding names at most this many


class Reach:
    """`blocked`: vertices whose input goes no further (they are reached, not passed).
    `hops`: (vertex, watcher) steps a message takes from a node's input, not its output (a
    `catch` gets the message a node failed on), so they go on from a blocked vertex too."""

    def __init__(
        self, pred: dict[str, list[str]], targets: Iterable[str], blocked: set[str], k: int = K,
        hops: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    ):
        self._one: dict[str, tuple[str, str, int]] | None = None
        if k == 1:
            self._nearest_only(pred, targets, blocked, hops)
            return
        labels: dict[str, list[str]] = {}
        nxt: dict[tuple[str, str], str] = {}
        depth: dict[tuple[str, str], int] = {}
        self.targets = sorted(set(targets))
        q: deque[tuple[str, str]] = deque()
        for t in self.targets:
            labels[t] = [t]
            depth[(t, t)] = 0
            q.append((t, t))
        empty = ()
        while q:
            item = q.popleft()
            v, t = item
            if v in blocked and v != t and (v, nxt[item]) not in hops:
                continue  # messages arriving at v stop there
            preds = pred.get(v, empty)
            if not preds:
                continue
            d = depth[item] + 1
            for u in preds:
                lab = labels.get(u)
                if lab is None:
                    labels[u] = [t]
                elif len(lab) >= k or t in lab:
                    continue
                else:
                    lab.append(t)
                key = (u, t)
                nxt[key] = v
                depth[key] = d
                q.append(key)
        self.labels = labels
        self._next = nxt
        self.depth = depth

    def _nearest_only(self, pred, targets, blocked, hops) -> None:
        """k = 1: one breadth-first search from all the targets at once; the first to reach
        a vertex is its nearest. A third of the work of the general case, without its keys."""
        one: dict[str, tuple[str, str, int]] = {}
        self.targets = sorted(set(targets))
        q: deque[str] = deque()
        for t in self.targets:
            one[t] = (t, t, 0)
            q.append(t)
        empty = ()
        while q:
            v = q.popleft()
            t, after, d = one[v]
            if v in blocked and v != t and (v, after) not in hops:
                continue
            d += 1
            for u in pred.get(v, empty):
                if u not in one:
                    one[u] = (t, v, d)
                    q.append(u)
        self._one = one

    def targets_of(self, v: str) -> list[str]:
        if self._one is not None:
            e = self._one.get(v)
            return [e[0]] if e is not None else []
        return self.labels.get(v, [])

    def depth_of(self, v: str, t: str) -> int:
        if self._one is not None:
            return self._one[v][2]
        return self.depth[(v, t)]

    def path(self, v: str, t: str) -> list[str]:
        """Vertices from v to the effect t, both included."""
        out = [v]
        if self._one is not None:
            one = self._one
            while v != t:
                v = one[v][1]
                out.append(v)
            return out
        while v != t:
            v = self._next[(v, t)]
            out.append(v)
        return out


def nearest(reach: Reach, vertices: Iterable[str], index_of: Callable[[str], int], k: int = K) -> list[tuple[str, list[str]]]:
    """The nearest k effects reached from any of a node's vertices (its subflow copies), each
    once, as (effect node id, path of node ids): shortest first, then in file order."""
    best: dict[str, tuple[int, str, str]] = {}
    for v in vertices:
        for t in reach.targets_of(v):
            d = reach.depth_of(v, t)
            tid = t.rpartition(SEP)[2]
            if tid not in best or d < best[tid][0]:
                best[tid] = (d, v, t)
    chosen = sorted(best.items(), key=lambda kv: (kv[1][0], index_of(kv[0])))[:k]
    out = []
    for tid, (_, v, t) in chosen:
        out.append((tid, [x.rpartition(SEP)[2] for x in reach.path(v, t)]))
    return out


def count(reach: Reach, vertices: Iterable[str]) -> int:
    """How many effects (by node) the search kept for these vertices: a floor, as at most K
    are kept per vertex."""
    return len({t.rpartition(SEP)[2] for v in vertices for t in reach.targets_of(v)})
