"""otc-emu experiment ablation: reproducible, and each step changes what its premise claims."""
import json

from otc_emu import Device, experiments
from otc_emu.experiments import ablation


def run(tmp_path, name):
    out = experiments.run("ablation", tmp_path / name, {"size": 64, "sms": 1})
    return out.rows


def test_ablation_is_reproducible_and_each_premise_does_what_it_claims(tmp_path):
    rows = run(tmp_path, "first")
    again = run(tmp_path, "second")
    assert json.dumps(rows, sort_keys=True) == json.dumps(again, sort_keys=True), "same numbers twice"
    assert all(r["ok"] for r in rows)
    steps = list(dict.fromkeys(r["step"] for r in rows))
    assert steps == ["v100", "+ hmma-half-rate", "+ drop-predicated-off", "+ ldst-one-per-sm",
                     "+ accel-sim-clocks (= dstc-paper)", "v100 + sequencer", "dstc-paper + sequencer",
                     "v100 + wide sequenced tile", "dstc-paper + wide sequenced tile"]
    at = {(r["step"], r["point"]): r for r in rows}
    for label, *_ in ablation.POINTS:
        v, half, drop, ldst, paper, seq_v, seq_p, wide_v, wide_p = (at[(s, label)] for s in steps)
        # half-rate HMMA: hmma's tensor cycles double; the OTC kernels' cycles do not change
        assert half["hmma_tensor_cycles"] == 2 * v["hmma_tensor_cycles"]
        assert half["cycles"] == v["cycles"] and half["issue_slots"] == v["issue_slots"]
        # dropping predicated-off tensor instructions: exactly their issue slots go
        assert drop["warp_instructions"] == half["warp_instructions"]
        assert drop["issue_slots"] == half["issue_slots"] - drop["removed"]
        assert v["removed"] == half["removed"] == 0
        # one LD/ST unit per SM: the same instructions, issue slots and tensor work, other cycles
        for key in ("warp_instructions", "issue_slots", "removed", "ohmmas", "hmma_tensor_cycles"):
            assert ldst[key] == drop[key], key
        # Accel-Sim's clocks: more L2 and DRAM bytes per core cycle, the same work
        for key in ("warp_instructions", "issue_slots", "removed", "ohmmas", "hmma_tensor_cycles"):
            assert paper[key] == ldst[key], key
        # the sequencer runs the same OHMMAs from fewer instructions, removing nothing
        assert seq_v["ohmmas"] == v["ohmmas"] and seq_p["ohmmas"] == paper["ohmmas"]
        assert seq_v["removed"] == 0
        if label != "dense owmma":
            assert seq_v["mode"] == "spgemm_seq"
            assert seq_v["warp_instructions"] < v["warp_instructions"]
        assert drop["removed"] == half["skipped"], "removed: exactly the predicated-off OHMMAs"
        # the wide tile runs the same OHMMAs (dense owmma: the same program on every step)
        assert wide_v["ohmmas"] == v["ohmmas"] and wide_p["ohmmas"] == paper["ohmmas"]
        if label != "dense owmma":
            assert wide_v["mode"] == wide_p["mode"] == "spgemm_wide"
            assert wide_v["removed"] == 0
        assert v["ideal"] == v["hmma_tensor_cycles"] / (v["ohmmas"] * v["ohmma_cycles"])


def test_premises_follow_the_machine_file():
    steps = ablation.steps("dstc-paper")
    assert steps[2]["settings"] == {"tensor.hmma884_f32.cycles": 4, "tensor.hmma884_f32.latency": 8,
                                    "tensor.hmma884_f16.latency": 8, "tensor.hmma884_vs.cycles": 4,
                                    "tensor.hmma884_vs.latency": 8,
                                    **{f"tensor.{c}.{k}": v for c in ("hmma_sp24", "hmma_hss4", "hmma_hss8")
                                       for k, v in (("cycles", 4), ("latency", 8))},
                                    "scheduler.drop_predicated_off_tensor": True}
    assert steps[3]["settings"] == {**steps[2]["settings"], "units.mem.ii": 1}
    assert steps[4]["settings"] == {**steps[3]["settings"], "gpu.clock_mhz": 1132.0,
                                    "memory.l2_bandwidth_gbs": 2318.336, "memory.dram_bandwidth_gbs": 870.4}
    assert steps[-3]["settings"]["tensor.spwmma_sequencer"] is True
    assert steps[-1]["settings"] == {**steps[-3]["settings"], "tensor.accbufs_per_warp": 4}
    assert steps[-2]["settings"] == {"tensor.spwmma_sequencer": True, "tensor.accbufs_per_warp": 4}


def test_a_step_on_a_slice_keeps_its_bandwidth_per_sm():
    # The premises' bandwidths are the whole V100's: a slice of 4 SMs gets 4/80 of them, as
    # Device.v100_slice gives dstc-paper itself; an explicit --set stays as given.
    pts = ablation._points({"size": 64, "sms": 4})
    paper = next(p for p in pts if p["step"] == "+ accel-sim-clocks (= dstc-paper)")
    dev = ablation._device(paper)
    assert dev.timing_config["memory.l2_bandwidth_gbs"] == 2318.336 * 4 / 80
    assert dev.timing_config == Device.v100_slice(4, machine="dstc-paper").timing_config
    pts = ablation._points({"size": 64, "sms": 4, "settings": {"memory.dram_bandwidth_gbs": 10}})
    dev = ablation._device(next(p for p in pts if p["step"] == "+ accel-sim-clocks (= dstc-paper)"))
    assert dev.timing_config["memory.dram_bandwidth_gbs"] == 10
