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
    full = otc_emu.Device().timing_config
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
    assert [p.name for p in premises] == ["hmma-half-rate", "drop-predicated-off", "ldst-one-per-sm"]
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
