"""Benchmark of the dispatch optimizer: prints figures, asserts nothing.

Cases
- default: the Klimaviertel from config/klimaviertel.yaml, 36 h (144 slots). The first cold build
  and solve (Pyomo build, compile and load into HiGHS, first solve), then closed-loop MPC
  re-solves: every 15 minutes the horizon moves one slot, the state is taken from the previous
  plan and the inputs are new. For each re-solve the wall time of `solve()` (inputs to DispatchResult)
  is compared with the time HiGHS itself reports for the same run, and with a cold HiGHS solve of
  the identical LP in a fresh HiGHS instance.
- pyomo: the same LP re-solved through Pyomo's own persistent HiGHS interface, for comparison.
- milp: the same site with heat pump on/off, minimum times and SG Ready states (time-limited).
- scale: districts of N houses (the seven Klimaviertel houses repeated, one community battery per
  50 houses, connection limits scaled) at 96 and 192 slots; each case runs in its own process so
  that its peak memory (max RSS) is its own.

  A case's own cold plan (build, load and one LP per COP linearisation pass) and warm re-solve
  record each LP as HiGHS holds it before the run (with the direction rows the inputs do not need
  left free); after them, each recorded LP goes to fresh HiGHS instances with each
  --plain-solvers setting, one after another in the same process, so both see the same machine
  load; wall and CPU (time.process_time) times are printed, and the goal's ratios: the cold plan
  against plain HiGHS on its first LP and on all of its LPs, the warm re-solve against the cold
  plan and against plain HiGHS on the same LP.

  With --decompose, each district is instead planned by the decomposition
  (optimizer.decomposition: house blocks in worker processes, coordinated over the grid
  connection) in its own process, and, up to --whole-up-to houses, solved whole as one LP
  (DispatchOptimizer, the same COP linearisation: one pass around the measured tank
  temperatures) in another process, then the identical LP in a fresh HiGHS instance with each
  --plain-solvers setting; iterations, wall and CPU times (this process and the workers), peak RSS
  (the coordinator's plus each worker's), objective, bound and gap are printed.

Usage: .venv/bin/python bench/optimizer_bench.py [--case default|milp|scale|all]
       [--resolves 20] [--houses 50,200,500] [--slots 96,192] [--cold-solver ipm]
       [--plain-solvers choose,simplex,ipm-off,ipm-on,pdlp]
       [--decompose [--workers 2] [--whole-up-to 500] [--gap 0.001] [--sample-houses 100]]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

T_IMPORT = time.perf_counter()
import highspy  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse  # noqa: E402  (Pyomo imports it lazily on first compile)
import scipy.stats  # noqa: E402, F401

from energy.config import SiteConfig, load_site_config  # noqa: E402
from energy.site import Site, load_site  # noqa: E402
from optimizer import (  # noqa: E402
    DispatchOptimizer,
    DispatchState,
    OptimizerOptions,
    synthetic_inputs,
)

IMPORT_SECONDS = time.perf_counter() - T_IMPORT
ColdSolver = Literal["simplex", "ipm", "choose"]
START = pd.Timestamp("2026-01-20T00:00:00Z")


def scaled_site(n_houses: int) -> Site:
    """The default district with its houses repeated to n_houses (and its first community
    battery, if any, once per 50 houses), devices removed."""
    base = load_site_config().model_dump(mode="python", exclude={"source_path"})
    templates = base["houses"]
    houses = []
    for i in range(n_houses):
        house = {k: v for k, v in templates[i % len(templates)].items() if k != "meter"}
        house["id"] = f"house-{i + 1:03d}"
        house["name"] = f"Haus {i + 1}"
        for part in ("pv", "heat_pump", "battery"):
            if house.get(part):
                house[part] = {k: v for k, v in house[part].items() if k != "device"}
        houses.append(house)
    # a shared battery of the base site, if it has one, repeated once per 50 houses
    community = [
        {
            **{k: v for k, v in battery.items() if k != "device"},
            "id": f"{battery['id']}-{j + 1:02d}",
        }
        for battery in base["community_batteries"][:1]
        for j in range(max(1, n_houses // 50))
    ]
    factor = n_houses / len(templates)
    grid = {
        "import_limit_kw": base["grid"]["import_limit_kw"] * factor,
        "export_limit_kw": base["grid"]["export_limit_kw"] * factor,
    }
    chargers = [{k: v for k, v in c.items() if k != "device"} for c in base["ev_chargers"]]
    config = {
        **base,
        "houses": houses,
        "community_batteries": community,
        "ev_chargers": chargers,
        "grid": grid,
    }
    return Site.from_config(SiteConfig.model_validate(config))


def state_from(result, site: Site) -> DispatchState:
    """The measured state of the next cycle: the plan's first slot, as if it came true."""
    plant_soc = {}
    tanks = {}
    for (asset, quantity), values in result.values.items():
        if quantity == "soc_end_frac":
            plant_soc[asset] = float(values[0])
        elif quantity == "temp_end_c":
            tanks[asset] = float(values[0])
    return DispatchState(soc_frac=plant_soc, tank_temp_c=tanks)


def cold_highs_seconds(optimizer: DispatchOptimizer) -> float:
    """HiGHS alone on the identical LP, in a fresh instance (its own run time)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(optimizer.backend.highs.getLp())
    h.run()
    return h.getRunTime()


def bench_default(resolves: int, cold_solver: ColdSolver) -> None:
    site = load_site()
    n = 144
    print(
        f"== default Klimaviertel: {len(site.config.houses)} houses, "
        f"{len(site.config.community_batteries)} community batteries, "
        f"{len(site.config.ev_chargers)} EV charger, {n} slots (36 h), LP =="
    )
    print(
        f"python imports (numpy, pandas, pyomo, scipy, highspy): {IMPORT_SECONDS:.3f} s "
        "(once per process, not counted below)"
    )
    inputs = synthetic_inputs(site, START, n + resolves, seed=7)
    t0 = time.perf_counter()
    optimizer = DispatchOptimizer(
        site, options=OptimizerOptions(horizon_slots=n, cold_solver=cold_solver)
    )
    first = optimizer.solve(inputs.window(0, n))
    cold_total = time.perf_counter() - t0
    s = first.summary
    print(
        f"first cold build and solve: {cold_total:.3f} s  (Pyomo build "
        f"{optimizer.model_build_seconds:.3f} s, compile and load into HiGHS "
        f"{optimizer.model_load_seconds:.3f} s, solve {s.solve_seconds:.3f} s of which HiGHS "
        f"{s.highs_seconds:.3f} s, extraction {s.extract_seconds:.4f} s); "
        f"{s.n_variables} variables, {s.n_constraints} constraints, status {s.status}"
    )
    walls, highs, cold, iters = [], [], [], []
    result = first
    for k in range(1, resolves + 1):
        state = state_from(result, site)
        window = inputs.window(k, n)
        started = time.perf_counter()
        result = optimizer.solve(window, state)
        walls.append(time.perf_counter() - started)
        highs.append(result.summary.highs_seconds)
        iters.append(result.summary.simplex_iterations or 0)
        cold.append(cold_highs_seconds(optimizer))
        assert result.summary.status == "optimal", result.summary
    walls_a, highs_a, cold_a = map(np.asarray, (walls, highs, cold))
    ratio = walls_a / highs_a
    print(
        f"warm MPC re-solves ({resolves}): wall per solve() median {np.median(walls_a):.4f} s "
        f"(min {walls_a.min():.4f}, max {walls_a.max():.4f}); HiGHS's own time in the same "
        f"runs median {np.median(highs_a):.4f} s; median simplex iterations "
        f"{statistics.median(iters):.0f}"
    )
    print(
        f"  ratio wall / HiGHS (same run): median {np.median(ratio):.2f}x, max {ratio.max():.2f}x"
        f"  (goal <= 2x)"
    )
    print(
        f"  HiGHS cold on the identical LP (fresh instance): median {np.median(cold_a):.4f} s; "
        f"warm wall / HiGHS cold: median {np.median(walls_a / cold_a):.2f}x"
    )


def bench_pyomo_persistent(resolves: int) -> None:
    """The same LP re-solved through Pyomo's persistent HiGHS interface (mutable Params set in
    Pyomo, changes found and passed on by Pyomo), for comparison with the direct updates."""
    from pyomo.contrib.solver.solvers.highs import Highs as PyomoHighs

    from optimizer.model import build_model, coefficients, set_param_values
    from optimizer.plant import Plant

    site = load_site()
    n = 144
    print(f"== the same LP through Pyomo's persistent HiGHS (pyomo.contrib.solver), {n} slots ==")
    inputs = synthetic_inputs(site, START, n + resolves, seed=7)
    dm = build_model(site.config, Plant.from_site(site), OptimizerOptions(horizon_slots=n))
    solver = PyomoHighs()
    updates = solver.config.auto_updates
    for name in (
        "check_for_new_or_removed_constraints",
        "check_for_new_or_removed_vars",
        "check_for_new_or_removed_params",
        "check_for_new_objective",
        "update_constraints",
        "update_vars",
        "update_named_expressions",
        "update_objective",
    ):
        setattr(updates, name, False)
    state = DispatchState().completed(site)
    walls, highs = [], []
    for k in range(resolves + 1):
        started = time.perf_counter()
        set_param_values(dm, coefficients(dm, inputs.window(k, n), state))
        before = solver._solver_model.getRunTime() if solver._solver_model is not None else 0.0
        solver.solve(dm.formulation)
        walls.append(time.perf_counter() - started)
        highs.append(solver._solver_model.getRunTime() - before)
    walls_a, highs_a = np.asarray(walls[1:]), np.asarray(highs[1:])
    print(
        f"first solve (set_instance) {walls[0]:.3f} s; re-solves ({resolves}): wall median "
        f"{np.median(walls_a):.4f} s, HiGHS median {np.median(highs_a):.4f} s, ratio median "
        f"{np.median(walls_a / highs_a):.2f}x"
    )


def bench_milp(time_limit: float) -> None:
    site = load_site()
    n = 144
    print(
        f"== default Klimaviertel, {n} slots, MILP (heat pump on/off, minimum times, SG Ready), "
        f"time limit {time_limit} s, gap 1 % =="
    )
    inputs = synthetic_inputs(site, START, n + 2, seed=7)
    optimizer = DispatchOptimizer(
        site,
        options=OptimizerOptions(horizon_slots=n, heat_pump_on_off=True, time_limit_s=time_limit),
    )
    result = optimizer.solve(inputs.window(0, n))
    for k in range(3):
        s = result.summary
        print(
            f"  solve {k}: status {s.status} ({s.model_status}), gap {s.mip_gap:.3f}, "
            f"HiGHS {s.highs_seconds:.2f} s, {s.n_integer_variables} integer variables, "
            f"objective {s.objective_eur:.2f}, comfort penalty "
            f"{s.cost_breakdown['comfort_penalty_eur']:.2f}"
        )
        if k < 2:
            result = optimizer.solve(inputs.window(k + 1, n), state_from(result, site))


def plain_lp_runs(
    lp: highspy.HighsLp, solvers: list[str], time_limit_s: float
) -> dict[str, dict[str, float | str]]:
    """The identical LP (as loaded in the project's HiGHS model) passed to a fresh HiGHS
    instance per solver setting, one after another in this process: HiGHS alone, cold."""
    out: dict[str, dict[str, float | str]] = {}
    for setting in solvers:
        solver, _, crossover = setting.partition("-")
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", time_limit_s)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        h.passModel(lp)
        h.setOptionValue("solver", solver)
        if crossover:
            h.setOptionValue("run_crossover", crossover)
        h.run()
        out[setting] = {
            "wall_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0,
            "status": h.modelStatusToString(h.getModelStatus()),
            "objective": float(h.getInfo().objective_function_value),
        }
    return out


class LpRecorder:
    """Keeps a copy of the LP HiGHS holds before each of the optimizer's runs, labelled by the
    plan it belongs to, for the plain runs afterwards. The copies stay in this process while
    the project plans: its peak memory reported includes them (an overstatement)."""

    def __init__(self, optimizer: DispatchOptimizer):
        self.label = ""
        self.lps: list[tuple[str, highspy.HighsLp]] = []
        backend = optimizer.backend
        run = backend.run

        def recording_run(**kwargs: Any) -> Any:
            self.lps.append((f"{self.label} LP {len(self.lps) + 1}", backend.highs.getLp()))
            return run(**kwargs)

        backend.run = recording_run  # type: ignore[method-assign]


def bench_scale_case(
    houses: int,
    slots: int,
    cold_solver: ColdSolver,
    cold_only_above: int,
    time_limit_s: float,
    plain_solvers: list[str],
) -> dict[str, object]:
    """The project's cold plan (build, load, every COP linearisation pass) and warm re-solve,
    then each LP they solved, as HiGHS held it, solved cold by plain HiGHS."""
    site = scaled_site(houses)
    inputs = synthetic_inputs(site, START, slots + 1, seed=11)
    cpu0 = time.process_time()
    optimizer = DispatchOptimizer(
        site,
        options=OptimizerOptions(
            horizon_slots=slots, cold_solver=cold_solver, time_limit_s=time_limit_s
        ),
    )
    recorder = LpRecorder(optimizer)
    cpu_built = time.process_time()
    recorder.label = "cold"
    first = optimizer.solve(inputs.window(0, slots))
    cpu_cold = time.process_time()
    if (first.summary.n_variables or 0) > cold_only_above:
        second = None
    else:
        recorder.label = "warm"
        second = optimizer.solve(inputs.window(1, slots), state_from(first, site))
    cpu_warm = time.process_time()
    # the project's peak, before the plain LPs' copies and solves in this process add theirs
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    plain = {label: plain_lp_runs(lp, plain_solvers, time_limit_s) for label, lp in recorder.lps}
    return {
        "houses": houses,
        "slots": slots,
        "variables": first.summary.n_variables,
        "constraints": first.summary.n_constraints,
        "build_s": optimizer.model_build_seconds,
        "load_s": optimizer.model_load_seconds,
        "build_load_cpu_s": cpu_built - cpu0,
        "cold_solve_s": first.summary.solve_seconds,
        "cold_lps": sum(label.startswith("cold") for label, _ in recorder.lps),
        "cold_total_s": optimizer.model_build_seconds
        + optimizer.model_load_seconds
        + first.summary.total_seconds,
        "cold_cpu_s": cpu_cold - cpu0,
        "extract_s": first.summary.extract_seconds,
        "warm_total_s": second.summary.total_seconds if second else "-",
        "warm_highs_s": second.summary.highs_seconds if second else "-",
        "warm_cpu_s": cpu_warm - cpu_cold if second else "-",
        "status": first.summary.stage + "/" + (second.summary.stage if second else "-"),
        "objective": (second or first).summary.objective_eur,
        "cold_objective": first.summary.objective_eur,
        "plain": plain,
        "peak_rss_mib": peak_rss_mib,
    }


def bench_whole_case(
    houses: int, slots: int, time_limit_s: float, plain_solvers: list[str]
) -> dict[str, object]:
    """The district solved whole as one LP around the measured tank temperatures (the LP the
    decomposition solves), then that LP in fresh HiGHS instances."""
    site = scaled_site(houses)
    # the draw the decomposed case plans (its warm re-solve needs the slot after the horizon)
    inputs = synthetic_inputs(site, START, slots + 1, seed=11).window(0, slots)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    optimizer = DispatchOptimizer(
        site,
        options=OptimizerOptions(
            horizon_slots=slots, cop_linearisation_passes=1, time_limit_s=time_limit_s
        ),
    )
    result = optimizer.solve(inputs)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    # the project's peak, before the plain LP's copies and solves in this process add theirs
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    plain = plain_lp_runs(optimizer.backend.highs.getLp(), plain_solvers, time_limit_s)
    return {
        "houses": houses,
        "slots": slots,
        "variables": result.summary.n_variables,
        "constraints": result.summary.n_constraints,
        "stage": result.summary.stage,
        "objective": result.summary.objective_eur,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mib": peak_rss_mib,
        "plain": plain,
    }


def bench_decomposed_case(
    houses: int, slots: int, workers: int, gap: float, sample_houses: int
) -> dict[str, object]:
    """The district planned by the decomposition, from starting the workers to the plan."""
    from optimizer.decomposition import DecomposedDispatch, DecompositionOptions

    site = scaled_site(houses)
    inputs = synthetic_inputs(site, START, slots + 1, seed=11)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    settings = DecompositionOptions(workers=workers, gap_frac=gap, sample_houses=sample_houses)
    with DecomposedDispatch(site, OptimizerOptions(horizon_slots=slots), settings) as dispatch:
        started = time.perf_counter()
        plan = dispatch.solve(inputs.window(0, slots))
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        # the MPC's next plan, as the scale case's: the horizon one slot later (one new slot at
        # its end), the state the plan expects, starting from this plan's price and profiles
        start_price, start_net_kw = plan.next_start()
        warm_cpu0 = time.process_time()
        warm = dispatch.solve(
            inputs.window(1, slots),
            state_from(plan, site),
            start_price=start_price,
            start_net_kw=start_net_kw,
        )
        warm_cpu = time.process_time() - warm_cpu0
    return {
        "houses": houses,
        "slots": slots,
        "blocks": plan.n_blocks,
        "iterations": plan.iterations,
        "sample_iterations": plan.sample_iterations,
        "proposals": plan.n_proposals,
        "objective": plan.objective_eur,
        "bound": plan.bound_eur,
        "gap": plan.gap_frac,
        "converged": plan.converged,
        "start_workers_s": started - wall0,
        "load_s": plan.load_seconds,
        "iterate_s": plan.iterate_seconds,
        "recover_s": plan.recover_seconds,
        "wall_s": wall,
        "cpu_s": cpu,
        "worker_cpu_s": plan.worker_cpu_seconds,
        "peak_rss_mib": plan.peak_rss_mib,
        "warm_iterations": warm.iterations,
        "warm_proposals": warm.warm_proposals,
        "warm_gap": warm.gap_frac,
        "warm_wall_s": warm.wall_seconds,
        "warm_cpu_s": warm_cpu,
        "warm_worker_cpu_s": warm.worker_cpu_seconds,
        "warm_peak_rss_mib": warm.peak_rss_mib,
    }


def bench_decomposed(
    houses: list[int],
    slots: list[int],
    whole_up_to: int,
    time_limit_s: float,
    plain_solvers: list[str],
    workers: int,
    gap: float,
    sample_houses: int,
) -> None:
    print(
        f"== scaling by decomposition ({workers} worker processes, gap {gap}, sample of "
        f"{sample_houses} houses for the start price; whole LP up to {whole_up_to} houses; "
        "each run in its own process) =="
    )
    for n_houses in houses:
        for n_slots in slots:
            if n_houses <= whole_up_to:
                whole = _case_process(
                    "--whole-case",
                    f"{n_houses}:{n_slots}",
                    "--scale-time-limit",
                    str(time_limit_s),
                    "--plain-solvers",
                    ",".join(plain_solvers),
                )
                print(
                    f"{n_houses} houses x {n_slots} slots, whole LP ({whole['variables']} columns, "
                    f"{whole['constraints']} rows): {whole['stage']}, objective "
                    f"{whole['objective']:.4f}, build + load + solve wall {whole['wall_s']:.1f} s, "
                    f"CPU {whole['cpu_s']:.1f} s, peak RSS {whole['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
                for setting, run in whole["plain"].items():
                    print(
                        f"    plain HiGHS {setting:>8} on the same LP: wall {run['wall_s']:.1f} s, "
                        f"CPU {run['cpu_s']:.1f} s, {run['status']}, objective "
                        f"{run['objective']:.4f}",
                        flush=True,
                    )
            else:
                whole = None
            row = _case_process(
                "--decomposed-case",
                f"{n_houses}:{n_slots}",
                "--workers",
                str(workers),
                "--gap",
                str(gap),
                "--sample-houses",
                str(sample_houses),
            )
            compared = (
                f", {100 * (row['objective'] / whole['objective'] - 1):+.4f} % against the whole LP"
                if whole is not None
                else ""
            )
            print(
                f"{n_houses} houses x {n_slots} slots, decomposed ({row['blocks']} blocks): "
                f"{row['iterations']} iterations after {row['sample_iterations']} on the sample, "
                f"{row['proposals']} proposals; objective {row['objective']:.4f}, bound "
                f"{row['bound']:.4f}, gap {100 * row['gap']:.3f} %{compared}",
                flush=True,
            )
            print(
                f"    wall {row['wall_s']:.1f} s (workers start {row['start_workers_s']:.1f}, "
                f"load and sample {row['load_s']:.1f}, iterate {row['iterate_s']:.1f}, recover "
                f"{row['recover_s']:.1f}); CPU coordinator {row['cpu_s']:.1f} s + workers "
                f"{row['worker_cpu_s']:.1f} s; peak RSS {row['peak_rss_mib']:.0f} MiB "
                "(coordinator + workers)",
                flush=True,
            )
            print(
                f"    next plan (the horizon one slot on, from this plan's price and profiles, "
                f"{row['warm_proposals']} of {row['blocks']} blocks follow theirs): "
                f"{row['warm_iterations']} iterations, gap {100 * row['warm_gap']:.3f} %, wall "
                f"{row['warm_wall_s']:.1f} s, CPU coordinator {row['warm_cpu_s']:.1f} s + workers "
                f"{row['warm_worker_cpu_s']:.1f} s; peak RSS {row['warm_peak_rss_mib']:.0f} MiB",
                flush=True,
            )


def _case_process(*args: str) -> dict[str, Any]:
    """Run one case in a fresh process (its own peak memory) and return its JSON line."""
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_scale(
    houses: list[int],
    slots: list[int],
    cold_solver: str,
    cold_only_above: int,
    time_limit_s: float,
    plain_solvers: list[str],
) -> None:
    print(
        f"== scaling (cold solver {cold_solver}; each case in its own process; then the "
        f"identical LP in fresh HiGHS instances: {', '.join(plain_solvers)}) =="
    )
    header = (
        "houses",
        "slots",
        "variables",
        "constraints",
        "build_s",
        "load_s",
        "cold_solve_s",
        "cold_lps",
        "cold_total_s",
        "cold_cpu_s",
        "warm_total_s",
        "warm_highs_s",
        "warm_cpu_s",
        "peak_rss_mib",
        "status",
    )
    print(" ".join(f"{h:>12}" for h in header))
    for n_houses in houses:
        for n_slots in slots:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--scale-case",
                    f"{n_houses}:{n_slots}",
                    "--cold-solver",
                    cold_solver,
                    "--cold-only-above",
                    str(cold_only_above),
                    "--scale-time-limit",
                    str(time_limit_s),
                    "--plain-solvers",
                    ",".join(plain_solvers),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(" ".join(_cell(row[h]) for h in header), flush=True)
            for label, runs in row["plain"].items():
                for setting, run in runs.items():
                    print(
                        f"    plain HiGHS {setting:>8} on the {label}: wall {run['wall_s']:8.3f} s, "
                        f"CPU {run['cpu_s']:8.3f} s, {run['status']}, objective "
                        f"{run['objective']:.6f}",
                        flush=True,
                    )
            print(
                f"    project objective: cold plan {row['cold_objective']:.6f}, warm re-solve "
                f"{row['objective']:.6f}",
                flush=True,
            )
            _print_scale_ratios(row, plain_solvers[0])


def _print_scale_ratios(row: dict[str, Any], setting: str) -> None:
    """The goal's ratios, in wall time, against plain HiGHS (`setting`) on the same LPs."""
    plain = {label: runs[setting]["wall_s"] for label, runs in row["plain"].items()}
    cold_lps = [wall for label, wall in plain.items() if label.startswith("cold")]
    cold = row["cold_total_s"]
    print(
        f"    cold plan ({row['cold_lps']} LPs) / plain HiGHS on its first LP: "
        f"{cold / cold_lps[0]:.2f}x; / plain HiGHS on each of its LPs: {cold / sum(cold_lps):.2f}x",
        flush=True,
    )
    warm = row["warm_total_s"]
    if isinstance(warm, float):
        warm_plain = [wall for label, wall in plain.items() if label.startswith("warm")]
        print(
            f"    warm re-solve / cold plan: {warm / cold:.2f}x; / plain HiGHS on the same LP: "
            f"{warm / sum(warm_plain):.2f}x",
            flush=True,
        )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:>12.3f}"
    return f"{'-' if value is None else value!s:>12}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case", choices=["default", "pyomo", "milp", "scale", "all"], default="all"
    )
    parser.add_argument("--resolves", type=int, default=20)
    parser.add_argument("--houses", default="50,200,500")
    parser.add_argument("--slots", default="96,192")
    parser.add_argument("--cold-solver", default="choose", choices=["simplex", "ipm", "choose"])
    parser.add_argument("--milp-time-limit", type=float, default=10.0)
    parser.add_argument(
        "--cold-only-above",
        type=int,
        default=800_000,
        help="skip the warm re-solve of scale cases with more variables",
    )
    parser.add_argument(
        "--scale-time-limit",
        type=float,
        default=1800.0,
        help="solver time limit of the scale cases, seconds",
    )
    parser.add_argument(
        "--plain-solvers",
        default="choose",
        help="comma-separated HiGHS solver settings for the plain LP of each scale case, "
        "e.g. choose,simplex,ipm-off,ipm-on,pdlp (ipm-off: interior point without crossover)",
    )
    parser.add_argument(
        "--decompose",
        action="store_true",
        help="scale case: plan each district by the decomposition (and whole, for comparison)",
    )
    parser.add_argument("--workers", type=int, default=2, help="decomposition worker processes")
    parser.add_argument("--gap", type=float, default=1e-3, help="decomposition relative gap")
    parser.add_argument(
        "--sample-houses", type=int, default=100, help="houses of the start-price sample"
    )
    parser.add_argument(
        "--whole-up-to",
        type=int,
        default=500,
        help="with --decompose: solve districts of up to this many houses whole too",
    )
    parser.add_argument("--scale-case", help=argparse.SUPPRESS)
    parser.add_argument("--whole-case", help=argparse.SUPPRESS)
    parser.add_argument("--decomposed-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    plain_solvers = [p for p in args.plain_solvers.split(",") if p]
    if args.whole_case:
        houses, slots = (int(x) for x in args.whole_case.split(":"))
        print(json.dumps(bench_whole_case(houses, slots, args.scale_time_limit, plain_solvers)))
        return
    if args.decomposed_case:
        houses, slots = (int(x) for x in args.decomposed_case.split(":"))
        print(
            json.dumps(
                bench_decomposed_case(houses, slots, args.workers, args.gap, args.sample_houses)
            )
        )
        return
    if args.scale_case:
        houses, slots = (int(x) for x in args.scale_case.split(":"))
        print(
            json.dumps(
                bench_scale_case(
                    houses,
                    slots,
                    args.cold_solver,
                    args.cold_only_above,
                    args.scale_time_limit,
                    args.plain_solvers.split(","),
                )
            )
        )
        return
    if args.case in ("default", "all"):
        bench_default(args.resolves, "simplex")
    if args.case in ("pyomo", "all"):
        bench_pyomo_persistent(args.resolves)
    if args.case in ("milp", "all"):
        bench_milp(args.milp_time_limit)
    if args.case == "scale" and args.decompose:
        bench_decomposed(
            [int(h) for h in args.houses.split(",")],
            [int(s) for s in args.slots.split(",")],
            args.whole_up_to,
            args.scale_time_limit,
            plain_solvers,
            args.workers,
            args.gap,
            args.sample_houses,
        )
    elif args.case in ("scale", "all"):
        bench_scale(
            [int(h) for h in args.houses.split(",")],
            [int(s) for s in args.slots.split(",")],
            args.cold_solver,
            args.cold_only_above,
            args.scale_time_limit,
            args.plain_solvers.split(","),
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
