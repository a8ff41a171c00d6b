"""Points per second of the experiment runner's executors, side by side in one run (issue 19).
Run by hand, not in CI:

    python benchmarks/bench_sweeps.py                           # fig21 at 1024^3 on 4 SMs, a subset of the sparsities
    python benchmarks/bench_sweeps.py --size 512 --full         # every fig21 point at 512^3
    python benchmarks/bench_sweeps.py --json benchmarks/results/bench_sweeps_1024.json

The same fig21 points run (each into a fresh directory) on 1 local worker, 2 local workers and
Ray with 2 CPUs (a local Ray started here; its start-up is timed apart), optionally also in-process
(``--in-process``, the emulator on every core). Printed: wall seconds of each, points per second,
the speed-up of 2 workers over 1, the Ray overhead per point against 2 local workers, the mean
and largest per-point seconds on 1 worker (from the finish times: one point after another), and
whether every executor wrote the same points (equal points files up to order). The CPU seconds
of the local runs (this process and its worker processes) say how many cores the host actually
gave them: on a shared host, 2 workers can only be as fast as the second core is free, and
points per CPU-second show whether the runner itself costs anything. The load average before
and after is printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from otc_emu import experiments


class Timeline:
    """A runner progress that keeps the time each point finished."""

    def __init__(self):
        self.start_time = None
        self.finish_times: list[float] = []
        self.failed = 0

    def start(self, total, todo, path, executor):
        self.start_time = time.perf_counter()

    def started(self, description):
        pass

    def finished(self, description, error):
        self.finish_times.append(time.perf_counter())
        self.failed += error is not None


def run_once(label: str, executor, options: dict, root: Path) -> dict:
    directory = root / label.replace(" ", "-")
    timeline = Timeline()
    children0, own0 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = experiments.run("fig21", directory, options, progress=timeline, executor=executor)
    wall = time.perf_counter() - t0
    children1, own1 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds of this process and its (ended) worker processes; Ray's workers are the raylet's, not counted
    cpu = sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in ((children0, children1), (own0, own1)))
    points = sorted((directory / "fig21.points.jsonl").read_text().splitlines())
    gaps = [b - a for a, b in zip([timeline.start_time, *timeline.finish_times], timeline.finish_times)]
    print(f"{label:>22}: {wall:8.1f} s wall, {out.ran} points, {out.ran / wall:.3f} points/s, failed {len(out.failed)}, "
          f"CPU {cpu:.1f} s ({cpu / wall:.2f} cores)", flush=True)
    return {"label": label, "wall_s": wall, "cpu_s": cpu, "points": out.ran, "failed": len(out.failed), "gaps_s": gaps,
            "lines": points}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--sms", type=int, default=4)
    ap.add_argument("--full", action="store_true", help="every fig21 sparsity pair (default: A 0, 0.9, 0.99 x B 0, 0.99)")
    ap.add_argument("--in-process", action="store_true", help="also run in-process (the emulator on every core)")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    options = {"size": args.size, "sms": args.sms}
    if not args.full:
        options.update(sparsity_a=(0.0, 0.9, 0.99), sparsity_b=(0.0, 0.99))
    npoints = len(experiments.get("fig21", options).points(options))
    load_before = os.getloadavg()[0]
    print(f"fig21 at {args.size}^3 on {args.sms} SMs, {npoints} points; host: {os.cpu_count()} CPUs, "
          f"load average before {load_before:.1f}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench-sweeps-"))
    runs = []
    try:
        if args.in_process:
            runs.append(run_once("in-process", experiments.InProcess(), options, root))
        runs.append(run_once("1 local worker", experiments.LocalWorkers(1), options, root))
        runs.append(run_once("2 local workers", experiments.LocalWorkers(2), options, root))
        ray_init = None
        if not args.no_ray:
            import ray

            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            ray_init = time.perf_counter() - t0
            print(f"{'ray.init (2 CPUs)':>22}: {ray_init:8.1f} s", flush=True)
            runs.append(run_once("Ray, 2 CPUs", experiments.RayCluster("auto"), options, root))
            ray.shutdown()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    by = {r["label"]: r for r in runs}
    one, two = by["1 local worker"], by["2 local workers"]
    same = all(r["lines"] == runs[0]["lines"] for r in runs)
    gaps = one["gaps_s"]
    summary = {"size": args.size, "sms": args.sms, "points": npoints, "cpus": os.cpu_count(), "load_before": load_before,
               "load_after": os.getloadavg()[0], "ray_init_s": ray_init, "same_points": same,
               "speedup_2_over_1_workers": one["wall_s"] / two["wall_s"],
               "per_point_s_1_worker": {"mean": sum(gaps) / len(gaps), "max": max(gaps)},
               "runs": [{k: v for k, v in r.items() if k != "lines"} for r in runs]}
    if "Ray, 2 CPUs" in by:
        summary["ray_overhead_per_point_s"] = (by["Ray, 2 CPUs"]["wall_s"] - two["wall_s"]) / npoints
    summary["points_per_cpu_s"] = {r["label"]: r["points"] / r["cpu_s"] for r in runs if r["label"] != "Ray, 2 CPUs"}
    print(f"2 workers over 1: {summary['speedup_2_over_1_workers']:.2f}x wall, cores used "
          f"{one['cpu_s'] / one['wall_s']:.2f} -> {two['cpu_s'] / two['wall_s']:.2f}; points per CPU-second "
          + ", ".join(f"{k} {v:.4f}" for k, v in summary["points_per_cpu_s"].items()) + "; per point on 1 worker: mean "
          f"{summary['per_point_s_1_worker']['mean']:.1f} s, max {summary['per_point_s_1_worker']['max']:.1f} s"
          + (f"; Ray over 2 local workers: {summary['ray_overhead_per_point_s']:+.2f} s per point"
             if "ray_overhead_per_point_s" in summary else "")
          + f"; same points files: {'yes' if same else 'NO'}; load average after {summary['load_after']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if same and not any(r["failed"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
