"""Where the cycles go at the ablation's headline points, per machine (docs/experiments.md quotes it):

    python benchmarks/where_cycles.py [--size 512] [--sms 4] [--machine dstc-paper] [--set KEY=VALUE ...]

Per point and mode: model cycles, the speedup over hmma, the tensor-bound ideal, issue slots and
the fraction of sub-core cycles they are, the three largest stall reasons, and, for the sparse
kernels, the issued warp-instructions per listed k (k with work on both sides = ACCB.BMAP
executed; for spgemm_wide, whose records serve four 32x32 units, the (unit, k) pairs with work on
both sides, counted from the operands) that are not OHMMAs or sequenced SpWMMAs. Everything else
is read from the counters of one run of each kernel. spgemm_seq and spgemm_wide add the keys they
need (the sequencer; four accumulation buffers) to the machine."""
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
args = p.parse_args()
spec = cli.device_spec(argparse.Namespace(machine=args.machine, config=None, set=args.set))
out = []
for label, sa, sb, point_mode in ablation.POINTS:
    a, b = gemm_operands(args.size, args.size, args.size, sa, sb, 0)
    base = kernels.gemm(a, b, mode="hmma", device=slice_device(args.sms, spec)).stats.counters
    for mode in (args.modes.split(",") if point_mode == "spgemm" else [point_mode]):
        beyond = {**spec, "settings": {**spec.get("settings", {}), **BEYOND.get(mode, {})}}
        c = kernels.gemm(a, b, mode=mode, device=slice_device(args.sms, beyond)).stats.counters
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
        out.append(row)
        print(json.dumps(row))
