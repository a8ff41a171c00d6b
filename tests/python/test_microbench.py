"""The microbenchmark experiment (otc_emu.experiments.microbench): the nvcc listing's kernels run
on the cycle model and give the numbers the machine file and docs/timing.md section 3 predict,
measured the way the hardware papers measure them (clock reads around a dependent chain, pointer
chasing after a warming pass). The whole table: `otc-emu experiment microbench`."""
import math
from pathlib import Path

import pytest

from otc_emu.experiments import microbench as mb

# (point, expected model value, tolerance): the clock reads bracket the chain, so a chain of N
# dependent instructions of latency L reads (N - 1) * L + 1 or so: within 0.1 cycle of L for N = 128.
CASES = [
    ({"bench": "latency", "kernel": "lat_ffma", "what": "FFMA"}, 4, 0.1),
    ({"bench": "latency", "kernel": "lat_lop3", "what": "LOP3.LUT"}, 4, 0.1),
    ({"bench": "latency", "kernel": "lat_imad", "what": "IMAD"}, 4, 0.1),
    ({"bench": "latency", "kernel": "lat_hfma2", "what": "HFMA2"}, 6, 0.1),
    ({"bench": "latency", "kernel": "lat_dfma", "what": "DFMA"}, 8, 0.1),
    ({"bench": "latency", "kernel": "lat_mufu_ex2", "what": "MUFU.EX2"}, 14, 0.15),
    ({"bench": "latency", "kernel": "lat_f2i_i2f", "what": "F2I+I2F"}, 28, 0.2),
    # shared memory: 19 cycles, plus one per extra wavefront of a k-way conflict
    ({"bench": "smem", "ways": 1, "lanes": 1}, 19, 0.1),
    ({"bench": "smem", "ways": 4, "lanes": 32}, 19 + 3, 0.15),
    ({"bench": "smem", "ways": 32, "lanes": 32}, 19 + 31, 0.35),
    # the staircase: L1 hit, L2 hit, DRAM (v100.toml latencies)
    ({"bench": "gmem", "footprint_kib": 8}, 28, 0.01),
    ({"bench": "gmem", "footprint_kib": 256}, 193, 0.01),
    ({"bench": "gmem", "footprint_kib": 8192}, 400, 0.01),
]


@pytest.mark.parametrize("point,want,tol", CASES, ids=[mb._describe(c[0]) for c in CASES])
def test_microbenchmark_measures_the_model(point, want, tol):
    r = mb.MEASURE[point["bench"]](point)
    assert abs(r["model"] - want) <= tol, f"{mb._describe(point)}: {r['model']}"


def test_smem_conflicts_are_counted_per_way():
    r = mb.MEASURE["smem"]({"bench": "smem", "ways": 8, "lanes": 32})
    # 7 extra wavefronts per load in the chain; the setup stores add a few conflict-free ones
    assert 5 < r["bank_conflicts_per_load"] <= 7


def test_wmma_latency_follows_raihan_with_control_bits():
    # Raihan et al.: first HMMA of a wmma issued at 10, its result at 54 (docs/timing.md section 6)
    r = mb.MEASURE["wmma_latency"]({"bench": "wmma_latency", "control_bits": True})
    assert r["first_to_result"] == 44
    assert mb.MEASURE["wmma_latency"]({"bench": "wmma_latency"})["first_to_result"] < 44


@pytest.mark.parametrize("model,published,err", [
    (4.0, 4, 0.0), (5.5, 4, 1.5), (3.0, 4, -1.0), (400, (300, 460), 0.0), (250, (300, 460), -50.0),
    (500, (300, 460), 40.0)])
def test_error_of_a_value_or_a_range(model, published, err):
    assert mb.error_of(model, published) == err


def test_table_and_summary():
    points = [{"bench": "latency", "kernel": "lat_ffma", "what": "FFMA"}, {"bench": "smem", "ways": 2, "lanes": 32}]
    results = [{"model": 5.0, "unit": "cycles", "control_bits": {"model": 4.0}},
               {"model": 20.0, "unit": "cycles", "control_bits": {"model": 20.0}}]
    _, rows = mb._table(points, results)
    assert rows[0]["published"] == "4" and rows[0]["ratio"] == 1.25 and rows[0]["abs_error_control_bits"] == 0
    assert "published" not in rows[1]  # no published value: shown, not in the error
    s = mb.summary(rows)
    assert s["latency_rows"] == 1 and s["mae_cycles"] == 1.0 and s["mean_rel_error_pct"] == 25.0
    assert mb.summary(rows, "_control_bits")["mae_cycles"] == 0.0
    assert math.isnan(mb.summary([])["mae_cycles"])


def test_every_kernel_of_the_source_is_in_the_listing():
    import re

    src = (Path(__file__).resolve().parents[2] / "benchmarks" / "microbench" / "microbench.cu").read_text()
    names = set(re.findall(r'extern "C" __global__ void (\w+)', src)) - {"NAME"}  # NAME: the macro's
    names |= set(re.findall(r"LATENCY_KERNEL\((\w+),", src)) - {"NAME"}
    assert names == set(mb.program().kernels)
    for kernel, _ in mb.LATENCY:
        assert kernel in names
