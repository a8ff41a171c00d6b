"""otc-emu experiment ablation: reproducible, and each step changes what its premise claims."""
import json

from otc_emu import experiments
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
    assert steps == ["v100", "+ hmma-half-rate", "+ drop-predicated-off", "+ ldst-one-per-sm (= dstc-paper)",
                     "v100 + sequencer", "dstc-paper + sequencer", "v100 + wide sequenced tile",
                     "dstc-paper + wide sequenced tile"]
    at = {(r["step"], r["point"]): r for r in rows}
    for label, *_ in ablation.POINTS:
        v, half, drop, paper, seq_v, seq_p, wide_v, wide_p = (at[(s, label)] for s in steps)
        # half-rate HMMA: hmma's tensor cycles double; the OTC kernels' cycles do not change
        assert half["hmma_tensor_cycles"] == 2 * v["hmma_tensor_cycles"]
        assert half["cycles"] == v["cycles"] and half["issue_slots"] == v["issue_slots"]
        # dropping predicated-off tensor instructions: exactly their issue slots go
        assert drop["warp_instructions"] == half["warp_instructions"]
        assert drop["issue_slots"] == half["issue_slots"] - drop["removed"]
        assert v["removed"] == half["removed"] == 0
        # one LD/ST unit per SM: the same instructions, issue slots and tensor work, other cycles
        for key in ("warp_instructions", "issue_slots", "removed", "ohmmas", "hmma_tensor_cycles"):
            assert paper[key] == drop[key], key
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
    assert steps[-3]["settings"]["tensor.spwmma_sequencer"] is True
    assert steps[-1]["settings"] == {**steps[-3]["settings"], "tensor.accbufs_per_warp": 4}
    assert steps[-2]["settings"] == {"tensor.spwmma_sequencer": True, "tensor.accbufs_per_warp": 4}
