"""Solving the blocks of a decomposed district in parallel worker processes.

Each worker process owns a contiguous share of the blocks for the lifetime of the pool: it builds
the template models it needs once, keeps its blocks' LPs and their latest bases, and answers a
price with every block's net demand and objective. Only prices (one value per slot) and answers
(one row per block) cross the process boundary, plus the block problems once per solve. With
`workers=0` the blocks are solved in the calling process (tests, small districts).

Worker processes are started with the spawn method: HiGHS may hold threads, and forking a process
with threads is unsafe.
"""

from __future__ import annotations

import itertools
import multiprocessing
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import numpy.typing as npt

from energy.config import SiteConfig
from optimizer.blocks import BlockLp, BlockProblem, BlockSolver, BlockTemplate
from optimizer.highs_backend import SolverError
from optimizer.options import OptimizerOptions
from optimizer.result import PlanValues

__all__ = ["BlockAnswers", "BlockPool", "BlockWorker"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BlockAnswers:
    """Every block's answer to one price, in block order: net demand (blocks x slots, kW),
    objective at the price, and own cost (objective without the priced exchange)."""

    net_kw: FloatArray
    objective: FloatArray
    own_cost: FloatArray


class BlockWorker:
    """The blocks of one worker and the solver they share."""

    def __init__(self, options: OptimizerOptions):
        self.options = options
        self.templates: dict[str, BlockTemplate] = {}
        self.blocks: list[BlockLp] = []
        self.solver = BlockSolver()

    def load(
        self,
        templates: Mapping[str, SiteConfig],
        problems: Sequence[BlockProblem],
        site_batteries: int,
    ) -> int:
        """Take this solve's block problems (building templates not built yet); a block solved
        before starts from its latest basis (a re-plan's LP differs only in values)."""
        for key in {p.spec.template for p in problems}:
            if key not in self.templates:
                self.templates[key] = BlockTemplate(templates[key], self.options)
        bases = {block.spec.id: block.basis for block in self.blocks}
        self.blocks = [self.templates[p.spec.template].lp(p, site_batteries) for p in problems]
        for block in self.blocks:
            block.basis = bases.get(block.spec.id)
        return len(self.blocks)

    def price(self, price: FloatArray) -> BlockAnswers:
        n = len(price)
        net = np.zeros((len(self.blocks), n))
        objective = np.zeros(len(self.blocks))
        own = np.zeros(len(self.blocks))
        for k, block in enumerate(self.blocks):
            answer = self.solver.price(block, self.templates[block.spec.template], price)
            net[k], objective[k], own[k] = answer.net_kw, answer.objective, answer.own_cost
        return BlockAnswers(net, objective, own)

    def fixed(self, net_kw: FloatArray) -> tuple[FloatArray, list[PlanValues]]:
        costs = np.zeros(len(self.blocks))
        plans = []
        for k, block in enumerate(self.blocks):
            costs[k], plan = self.solver.fixed(
                block, self.templates[block.spec.template], net_kw[k]
            )
            plans.append(plan)
        return costs, plans

    def proposals_at(self, net_kw: FloatArray) -> tuple[npt.NDArray[np.bool_], FloatArray]:
        """Each block's cheapest plan with its net demand fixed at its row of `net_kw`, as a
        proposal: whether the block can follow that profile at all, and its own cost there."""
        feasible = np.zeros(len(self.blocks), dtype=bool)
        costs = np.zeros(len(self.blocks))
        for k, block in enumerate(self.blocks):
            try:
                costs[k], _ = self.solver.fixed(
                    block, self.templates[block.spec.template], net_kw[k]
                )
            except SolverError:
                continue
            feasible[k] = True
        return feasible, costs


def _serve(conn: Connection, options: OptimizerOptions) -> None:
    """A worker process: run the commands that arrive until told to stop."""
    worker = BlockWorker(options)
    while True:
        command, args = conn.recv()
        if command == "stop":
            conn.close()
            return
        try:
            result: Any = getattr(worker, command)(*args)
            reply = ("ok", result)
        except Exception as exc:  # reported to the coordinator, which raises it there
            reply = ("error", f"{type(exc).__name__}: {exc}")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        conn.send((*reply, time.process_time(), usage.ru_maxrss / 1024.0))


class BlockPool:
    """The blocks spread over `workers` processes (0: solved in this process)."""

    def __init__(self, options: OptimizerOptions, workers: int):
        self._local = BlockWorker(options) if workers == 0 else None
        self._conns: list[Connection] = []
        self._processes: list[Any] = []
        context = multiprocessing.get_context("spawn")
        for _ in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, options), daemon=True)
            process.start()
            child.close()
            self._conns.append(parent)
            self._processes.append(process)
        self._sizes: list[int] = []
        self._cpu = [0.0] * workers
        self._rss = [0.0] * workers

    @property
    def worker_cpu_seconds(self) -> float:
        """CPU time the worker processes have used so far (0 without workers)."""
        return float(sum(self._cpu))

    @property
    def worker_peak_rss_mib(self) -> list[float]:
        """Each worker process's peak resident memory so far, MiB."""
        return list(self._rss)

    def load(
        self,
        templates: Mapping[str, SiteConfig],
        problems: Sequence[BlockProblem],
        site_batteries: int,
    ) -> None:
        if self._local is not None:
            self._local.load(templates, problems, site_batteries)
            self._sizes = [len(problems)]
            return
        shares = np.array_split(np.arange(len(problems)), len(self._conns))
        self._sizes = [len(share) for share in shares]
        self._all(
            "load",
            [
                (
                    {k: templates[k] for k in {problems[i].spec.template for i in share}},
                    [problems[i] for i in share],
                    site_batteries,
                )
                for share in shares
            ],
        )

    def price(self, price: FloatArray) -> BlockAnswers:
        if self._local is not None:
            return self._local.price(price)
        answers = self._all("price", [(price,)] * len(self._conns))
        return BlockAnswers(
            np.concatenate([a.net_kw for a in answers]),
            np.concatenate([a.objective for a in answers]),
            np.concatenate([a.own_cost for a in answers]),
        )

    def fixed(self, net_kw: FloatArray) -> tuple[FloatArray, list[PlanValues]]:
        if self._local is not None:
            return self._local.fixed(net_kw)
        bounds = np.cumsum([0, *self._sizes])
        parts = self._all("fixed", [(net_kw[a:b],) for a, b in itertools.pairwise(bounds.tolist())])
        return np.concatenate([c for c, _ in parts]), [p for _, plans in parts for p in plans]

    def proposals_at(self, net_kw: FloatArray) -> tuple[npt.NDArray[np.bool_], FloatArray]:
        """`BlockWorker.proposals_at` over every block, in block order."""
        if self._local is not None:
            return self._local.proposals_at(net_kw)
        bounds = np.cumsum([0, *self._sizes])
        parts = self._all(
            "proposals_at", [(net_kw[a:b],) for a, b in itertools.pairwise(bounds.tolist())]
        )
        return np.concatenate([f for f, _ in parts]), np.concatenate([c for _, c in parts])

    def _all(self, command: str, args: list[tuple[Any, ...]]) -> list[Any]:
        """Send each worker its command, then collect every answer (they work meanwhile)."""
        for conn, arg in zip(self._conns, args, strict=True):
            conn.send((command, arg))
        results = []
        errors = []
        for k, conn in enumerate(self._conns):
            status, result, cpu, rss = conn.recv()
            self._cpu[k], self._rss[k] = cpu, rss
            if status == "ok":
                results.append(result)
            else:
                errors.append(result)
        if errors:
            raise SolverError(f"block worker failed: {errors[0]}")
        return results

    def close(self) -> None:
        """Stop the worker processes (the pool cannot be used afterwards)."""
        for conn in self._conns:
            try:
                conn.send(("stop", ()))
                conn.close()
            except OSError:
                pass
        for process in self._processes:
            process.join(timeout=10)
        self._conns, self._processes = [], []

    def __enter__(self) -> BlockPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
