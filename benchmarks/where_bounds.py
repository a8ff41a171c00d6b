"""Per-SM lower bounds, from one run's counters, on the cycles of the runs in a `where_cycles.py --dump`
file (docs/kernels.md quotes it for spgemm_wide and hmma at 4096^3):

    python benchmarks/where_bounds.py FILE [--json]

Each bound is a count of the run divided by the resources that serve it, work assumed spread evenly
(so each is a lower bound on the slowest SM), by the mechanisms of docs/timing.md 3.6 and 3.1:

- issue: issued slots / sub-cores (one instruction per sub-core per cycle);
- tensor: `tensor.busy_cycles` / sub-cores;
- LD/ST interval: issued load/store warp-instructions x `units.mem.ii` / sub-cores;
- data pipe: global sectors / `memory.l1_sectors_per_cycle` + shared wavefronts, per SM;
- L2 queue: every L1-missing load sector and every store sector takes its SM's L2 queue
  32 B / (L2 bandwidth / SMs) cycles (L2 hits included), per SM;
- DRAM queue: every L2-missing sector takes its SM's DRAM queue 32 B / (DRAM bandwidth / SMs).

The machine is the run's (its name, SMs and --set keys are in the dump; the keys
kernels.WIDE_MACHINE adds change none of these bounds)."""
import argparse
import json

from otc_emu import cli
from otc_emu.experiments.workloads import slice_device

p = argparse.ArgumentParser()
p.add_argument("file")
p.add_argument("--json", action="store_true", help="print one JSON line per run instead of a table")
args = p.parse_args()

for line in open(args.file):
    d = json.loads(line)
    c = d["counters"]
    sms = d["sms"]
    spec = cli.device_spec(argparse.Namespace(machine=d["machine"], config=None, set=d.get("set", [])))
    t = slice_device(sms, spec).timing_config
    subs = sms * t["sm.sub_cores"]
    active = min(sms, c["ctas"])
    mc = lambda gbs: max(round(t["memory.sector_bytes"] * 1000 / min(gbs * 1000 / t["gpu.clock_mhz"] / active,
                                                                     t["memory.sm_max_bytes_per_cycle"])), 1) / 1000
    ldst = sum(v for op, v in d["by_opcode_warp"].items() if op.startswith(("LDG", "LDS", "STG", "STS")))
    bounds = {
        "issue": c["issue.cycles"] / subs,
        "tensor": c["tensor.busy_cycles"] / subs,
        "ldst_interval": ldst * t["units.mem.ii"] / subs,
        "data_pipe": ((c["gmem.read_sectors"] + c["gmem.write_sectors"]) / t["memory.l1_sectors_per_cycle"]
                      + c["smem.wavefronts"]) / sms,
        "l2_queue": (c["l2.hits"] + c["l2.misses"]) * mc(t["memory.l2_bandwidth_gbs"]) / sms,
        "dram_queue": c["l2.misses"] * mc(t["memory.dram_bandwidth_gbs"]) / sms,
    }
    sub = c["issue.cycles"] + sum(v for k, v in c.items() if k.startswith("stall."))
    row = {"point": d["point"], "mode": d["mode"], "machine": d["machine"], "cycles": c["cycles"],
           "bounds": {k: round(v) for k, v in bounds.items()},
           "largest": max(bounds, key=bounds.get),
           "cycles_over_largest": round(c["cycles"] / max(bounds.values()), 2),
           "ldst": ldst, "l1_hit_rate": round(c["l1.hits"] / max(c["l1.hits"] + c["l1.misses"], 1), 3),
           "l2_sectors": c["l2.hits"] + c["l2.misses"], "l2_hit_rate": round(c["l2.hits"] / max(c["l2.hits"] + c["l2.misses"], 1), 3),
           "dram_bytes": c["dram.read_bytes"] + c["dram.write_bytes"],
           "issue_fraction": round(c["issue.cycles"] / sub, 3),
           "stalls": {k[6:]: round(v / sub, 3) for k, v in sorted(c.items(), key=lambda kv: -kv[1])
                      if k.startswith("stall.") and v / sub >= 0.01}}
    if args.json:
        print(json.dumps(row))
    else:
        b = row["bounds"]
        print(f"{row['point']:>10} {row['mode']:>12} {row['machine']:>10}: {row['cycles']:>10,} cycles; bounds "
              + ", ".join(f"{k} {v:,}" for k, v in b.items())
              + f"; largest {row['largest']} (cycles / it {row['cycles_over_largest']}); L1 hits {row['l1_hit_rate']:.1%},"
              f" L2 hits {row['l2_hit_rate']:.1%}; issue {row['issue_fraction']:.1%}, stalls {row['stalls']}")
