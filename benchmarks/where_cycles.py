"""Where the cycles go at the ablation's headline points, per machine (docs/experiments.md quotes it):

    python benchmarks/where_cycles.py [--size 512] [--sms 4] [--machine dstc-paper] [--set KEY=VALUE ...]
        [--points A0/B99,A75/B0] [--hmma-once] [--dump FILE]

Per point and mode: model cycles, the speedup over hmma, the tensor-bound ideal, issue slots and
the fraction of sub-core cycles they are, the three largest stall reasons, and, for the sparse
kernels, the issued warp-instructions per listed k (k with work on both sides = ACCB.BMAP
executed; for spgemm_wide, whose records serve four 32x32 units, the (unit, k) pairs with work on
both sides, counted from the operands) that are not OHMMAs or sequenced SpWMMAs. Everything else
is read from the counters of one run of each kernel. spgemm_seq and spgemm_wide add the keys they
need (the sequencer; four accumulation buffers) to the machine.

--points runs only the points with these labels (ablation.POINTS; default all). --hmma-once runs
hmma once, on the first point's operands, and reuses its counters at every point (hmma's HMMAs do
not skip zeros, so its cycles do not depend on the sparsity: the same at three points at 4096^3 in
results/paper_size_4096.jsonl), and prints a row of hmma's own (point "hmma"): cycles, issue
fraction, the five largest stall reasons, and the tensor unit's busy share. --modes "" runs no
sparse mode (with --hmma-once: hmma's row alone). --dump FILE appends, per run, all counters and
the issued warp-instructions per opcode as one JSON line."""
import argparse
import json

from gemm_per_k import BEYOND, listed_k
from otc_emu import cli, kernels
from otc_emu.experiments import ablation
from otc_emu.experiments.workloads import gemm_operands, slice_device

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=512)
p.add_argument("--sms", type=int, default=4)
p.add_argument("--machine", default="dstc-paper")
p.add_argument("--set", action="append", default=[])
p.add_argument("--modes", default="spgemm", help="sparse mode(s) for the sparse points: spgemm, spgemm_seq, spgemm_wide")
p.add_argument("--points", default=None, help="comma-separated point labels to run (default: all of ablation.POINTS)")
p.add_argument("--hmma-once", action="store_true", help="run hmma once and reuse it at every point; print its own row")
p.add_argument("--dump", default=None, help="append each run's counters and per-opcode warp-instructions to this file")
args = p.parse_args()
spec = cli.device_spec(argparse.Namespace(machine=args.machine, config=None, set=args.set))
labels = [label for label, *_ in ablation.POINTS]
wanted = args.points.split(",") if args.points else labels
unknown = [w for w in wanted if w not in labels]
if unknown:
    raise SystemExit(f"unknown point(s) {unknown}; the points are {labels}")
sparse_modes = [m for m in args.modes.split(",") if m]


ran = {}  # mode -> the program it ran, where it picks one (spgemm_wide's pipeline depth)


def run(a, b, mode, device, label):
    res = kernels.gemm(a, b, mode=mode, device=device)
    st = res.stats
    if res.program:
        ran[mode] = res.program
    if args.dump:
        with open(args.dump, "a") as f:
            f.write(json.dumps({"point": label, "mode": mode, "size": args.size, "sms": args.sms,
                                "machine": args.machine, "set": args.set, "counters": dict(st.counters),
                                "by_opcode_warp": {op: v["warp"] for op, v in st.by_opcode.items()}}) + "\n")
    return st.counters


def hmma_row(base):
    sub = base["issue.cycles"] + sum(v for k, v in base.items() if k.startswith("stall."))
    stalls = sorted(((v, k[6:]) for k, v in base.items() if k.startswith("stall.")), reverse=True)[:5]
    return {"point": "hmma", "mode": "hmma", "cycles": base["cycles"], "issue_slots": base["issue.cycles"],
            "issue_fraction": round(base["issue.cycles"] / sub, 3),
            "stalls": {k: round(v / sub, 3) for v, k in stalls},
            "tensor_busy_cycles": base["tensor.busy_cycles.hmma"],
            "warp_instructions": base["warp_instructions"]}


out = []
base = None
for label, sa, sb, point_mode in ablation.POINTS:
    if label not in wanted:
        continue
    a, b = gemm_operands(args.size, args.size, args.size, sa, sb, 0)
    if base is None or not args.hmma_once:
        base = run(a, b, "hmma", slice_device(args.sms, spec), label)
        if args.hmma_once:
            print(json.dumps(hmma_row(base)), flush=True)
    for mode in (sparse_modes if point_mode == "spgemm" else [point_mode]):
        beyond = {**spec, "settings": {**spec.get("settings", {}), **BEYOND.get(mode, {})}}
        c = run(a, b, mode, slice_device(args.sms, beyond), label)
        subcycles = c["issue.cycles"] + sum(v for k, v in c.items() if k.startswith("stall."))
        stalls = sorted(((v, k[6:]) for k, v in c.items() if k.startswith("stall.")), reverse=True)[:3]
        ohmmas = c["ohmma.executed"] + c.get("spwmma.ohmmas", 0)
        listed = listed_k(a, b, "spgemm") if mode == "spgemm_wide" else c.get("accb.bmap", 0)
        tensor_insts = c["ohmma.issued"] + c.get("spwmma.issued", 0)
        row = {"point": label, "mode": mode, "cycles": c["cycles"], "speedup": round(base["cycles"] / c["cycles"], 3),
               "ideal": round(base["tensor.busy_cycles.hmma"] / ohmmas, 2) if ohmmas else None,
               "issue_slots": c["issue.cycles"], "issue_fraction": round(c["issue.cycles"] / subcycles, 3),
               "removed": c.get("issue.removed", 0),
               "stalls": {k: round(v / subcycles, 3) for v, k in stalls},
               "non_ohmma_per_listed_k": round((c["warp_instructions"] - tensor_insts) / listed, 2) if listed else None,
               "hmma_issue_fraction": round(base["issue.cycles"] / (base["issue.cycles"] + sum(
                   v for k, v in base.items() if k.startswith("stall."))), 3)}
        if mode in ran:
            row["program"] = ran[mode]
        out.append(row)
        print(json.dumps(row), flush=True)
