"""Shipped machine descriptions (otc_emu.machines(), Device(machine=...), the CLI's --machine /
--config / --set) and the premises of dstc-paper as the ablation reads them."""
import pytest

import otc_emu
from otc_emu import cli
from otc_emu.device import machine_settings, machine_text


def test_machines_are_listed_with_one_line_descriptions():
    m = otc_emu.machines()
    assert list(m) == ["v100", "dstc-paper"]
    assert all(d and "\n" not in d for d in m.values())


def test_dstc_paper_changes_exactly_the_keys_of_its_file():
    v100, paper = otc_emu.Device().timing_config, otc_emu.Device(machine="dstc-paper").timing_config
    changed = {k for k in v100 if v100[k] != paper[k]}
    assert changed == set(machine_settings("dstc-paper")) == {
        "tensor.hmma884_f32.cycles", "tensor.hmma884_f32.latency", "tensor.hmma884_f16.latency",
        "tensor.hmma884_vs.cycles", "tensor.hmma884_vs.latency", "scheduler.drop_predicated_off_tensor", "units.mem.ii",
        "gpu.clock_mhz", "memory.l2_bandwidth_gbs", "memory.dram_bandwidth_gbs",
        *(f"tensor.{c}.{k}" for c in ("hmma_sp24", "hmma_hss4", "hmma_hss8") for k in ("cycles", "latency"))}
    assert otc_emu.Device(machine="v100").timing_config == v100
    assert machine_settings(None) == machine_settings("v100") == {}


@pytest.mark.parametrize("bad", ["dstc", "V100 ", "", 3])
def test_unknown_machines_are_config_errors(bad):
    with pytest.raises(otc_emu.ConfigError, match="machine"):
        otc_emu.Device(machine=bad)


def test_overrides_and_slices_apply_on_top_of_the_machine():
    d = otc_emu.Device(machine="dstc-paper", **{"tensor.hmma884_f32.latency": 6})
    assert d.timing_config["tensor.hmma884_f32.latency"] == 6
    assert d.timing_config["tensor.hmma884_f32.cycles"] == 4
    s = otc_emu.Device.v100_slice(4, machine="dstc-paper").timing_config
    full = otc_emu.Device(machine="dstc-paper").timing_config
    assert s["gpu.num_sms"] == 4 and s["memory.l2_bandwidth_gbs"] == full["memory.l2_bandwidth_gbs"] * 4 / 80
    assert s["scheduler.drop_predicated_off_tensor"] is True


@pytest.mark.parametrize("command", [
    ["gemm"], ["conv"], ["demo"], ["experiment", "fig21", "--out", "x"], ["run", "p.sass"], ["profile", "p.sass"]])
def test_every_running_command_takes_machine_config_and_set(command, tmp_path):
    cfg = tmp_path / "m.toml"
    cfg.write_text("[tensor.ohmma_f32]\nlatency = 5\n")
    args = cli.build_parser().parse_args(command + ["--machine", "dstc-paper", "--config", str(cfg), "--set",
                                                    "tensor.spwmma_sequencer=true"])
    spec = cli.device_spec(args)
    assert spec == {"machine": "dstc-paper",
                    "settings": {"tensor.ohmma_f32.latency": 5, "tensor.spwmma_sequencer": True}}


def test_cli_unknown_machine_is_a_clear_error(capsys):
    assert cli.main(["gemm", "-m", "32", "-n", "32", "-k", "32", "--machine", "nope"]) == 1
    assert "unknown machine 'nope'; machines: v100, dstc-paper" in capsys.readouterr().err


def test_premises_cover_the_machine_file():
    from otc_emu.experiments import ablation

    premises = ablation.premises("dstc-paper")
    assert [p.name for p in premises] == ["hmma-half-rate", "drop-predicated-off", "ldst-one-per-sm", "accel-sim-clocks"]
    keys = [k for p in premises for k in p.settings]
    assert sorted(keys) == sorted(machine_settings("dstc-paper")), "every key of the file belongs to one premise"
    assert all(p.source for p in premises)
    assert "accel-sim" in machine_text("dstc-paper")


def test_cli_config_file_with_an_unknown_key_names_the_file(tmp_path):
    cfg = tmp_path / "stale.toml"
    cfg.write_text("[tensor]\nohmma_latency = 5\n")  # a key of the machine files before [tensor.<class>]
    args = cli.build_parser().parse_args(["gemm", "--machine", "dstc-paper", "--config", str(cfg)])
    with pytest.raises(otc_emu.ConfigError, match=r"stale\.toml: unknown configuration key `tensor\.ohmma_latency`"):
        cli.device_spec(args)


def test_accel_sim_clocks_give_a_dram_bound_kernel_the_configs_bytes_per_cycle():
    # saxpy streams x and y once from DRAM on one SM of a slice: bound by that SM's DRAM share,
    # 900 GB/s at 1530 MHz on v100 (588 bytes per core cycle over 80 SMs), 870.4 GB/s at 1132 MHz
    # under the premise (769): its cycles fall by up to that ratio, its traffic stays.
    import numpy as np

    from otc_emu._operands import shipped_program

    n = 256 * 64
    x = np.arange(n, dtype=np.float32)
    clocks = {"gpu.clock_mhz": 1132.0, "memory.l2_bandwidth_gbs": 2318.336, "memory.dram_bandwidth_gbs": 870.4}
    runs = []
    for dev in (otc_emu.Device.v100_slice(1), otc_emu.Device.v100_slice(1, config=clocks)):
        r = dev.launch(shipped_program("saxpy.sass"), "saxpy", grid=(n // 256,), block=256,
                       args=[np.uint32(n), np.float32(2.0), dev.to_device(x), dev.to_device(x)])
        runs.append(r.stats)
    v100, paper = runs
    assert paper.counters["dram.read_bytes"] == v100.counters["dram.read_bytes"] == 8 * n
    ratio = (870.4e3 / 1132) / (900e3 / 1530)
    assert 1.2 < v100.cycles / paper.cycles <= ratio, (v100.cycles, paper.cycles)
    assert otc_emu.Device(machine="dstc-paper").timing_config.items() >= clocks.items()
