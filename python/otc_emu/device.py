"""The emulated GPU: device memory, kernel launches and a one-warp harness for instruction tests.

    dev = otc_emu.Device()
    x = dev.to_device(np.arange(1024, dtype=np.float32))
    y = dev.zeros(1024, np.float32)
    res = dev.launch(prog, "saxpy", grid=4, block=256, args=[x, y, np.float32(2.0), np.uint32(1024)])
    y.numpy(), res.stats.counters["warp_instructions"], res.stats.counters["cycles"]

The cycle model (docs/timing.md) runs beside every launch unless ``timing=False``; it never
changes a result. Arguments are :class:`DeviceArray` (passed as 8-byte pointers) or NumPy scalars; a bare Python
int or float is refused, because its width would be a guess.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
import math
import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, NamedTuple, Sequence, Union

import numpy as np

from . import _core, _json
from ._core import ConfigError, LaunchError, OtcError

__all__ = ["Device", "DeviceArray", "Issue", "LaunchResult", "Stats", "Warp", "machines", "machine_settings",
           "timing_mode", "SAMPLE_FRACTION", "TIMING_MODES"]

# Parameter type of `.param` -> the NumPy scalar types accepted for it (the assembler's table).
_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    t: (np.dtype(d).type,) for t, d in _core.PARAM_TYPES.items() if t != "ptr"
}
_SCALARS = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
            np.float16, np.float32, np.float64)


class Issue(NamedTuple):
    """One issued warp-instruction of a timed :class:`Warp` run."""

    pc: int
    cycle: int
    result: int
    sub_core: int


class Stats:
    """Statistics of a launch or a warp run.

    - ``counters`` (name -> int): always the functional counts ``warp_instructions``,
      ``thread_instructions`` (active lanes), ``predicated_thread_instructions`` (lanes whose guard
      held), ``ctas``, ``warps``, ``threads``, ``ohmma.executed``, ``ohmma.skipped``,
      ``hmma.executed``, ``bohmma.executed``; when the cycle model ran, also its counters:
      ``cycles`` (the kernel: the slowest SM), ``tensor.busy_cycles``, ``accbuf.accesses``,
      ``accbuf.bank_conflicts``, ``smem.bank_conflicts``, ``gmem.read_bytes``,
      ``gmem.write_bytes``, ``ohmma.issued``, ``stall.<reason>``, ``l1.hits``, ... (docs/timing.md).
    - ``metrics`` (name -> float): the model's derived values (``ipc``, ``time_us``,
      ``l1.hit_rate``, ``tensor.utilization``, ``stall_fraction.<reason>``, ...); empty without it.
    - ``sm_cycles``: the cycles of every SM of the model, or None without it.
    - ``by_opcode`` (opcode text -> {"warp": n, "thread": n}) and ``by_pc`` (warp-instructions
      per instruction).
    - ``per_pc``: the cycle model's statistics per instruction as a dict of columns (``"pc"``, the
      byte offset, then ``warp_instructions``, ``thread_instructions``, ``predicated_off_lanes``,
      ``stall.<reason>``, ``tensor.busy_cycles``, ``smem.wavefronts``, ``smem.bank_conflicts``,
      ``gmem.read_sectors``, ``l1.hits``, ``l2.hits``, ...; :data:`PC_COLUMNS`), one value per
      instruction of the kernel; each column sums to the counter of its name (docs/profiling.md).
      Empty without the cycle model. ``per_pc_records()`` / ``per_pc_array()`` give it as rows.
    - ``timeline``: the raw timeline when one was asked for (:mod:`otc_emu.timeline`), else None.
    - ``issues``: for a timed :class:`Warp` run, every issued warp-instruction in issue order as
      :class:`Issue` ``(pc, cycle, result, sub_core)`` (``result``: the cycle from which its
      results can be used); empty otherwise.
    - ``kernel``: the name of the launched kernel (None for a warp run).
    - ``sample``: for sampled timing (``Device.launch(..., timing="sampled")``), what was timed and
      how the model's statistics were extrapolated (``timed_sms``, ``sms_used``, ``ctas_timed``,
      ``ctas``, ``warp_instructions_timed``, ``scale``, ``cycles_timed``, ``sm_prediction_error``,
      ``expected_error``, ``exact``; docs/timing.md "Sampled timing"); None for full timing. ``estimated`` is True
      when the model's counters, metrics and ``sm_cycles`` are such an estimate.

    ``stats["key"]`` looks up counters, then metrics. ``to_dict()`` / ``to_json()`` hold everything
    but the timeline.
    """

    def __init__(self, data: dict[str, Any], kernel: str | None = None):
        self._data = {k: v for k, v in data.items() if k != "timeline"}
        self.kernel = kernel
        self.counters: dict[str, int] = dict(data.get("counters", {}))
        self.metrics: dict[str, float] = dict(data.get("metrics", {}))
        self.sm_cycles: list[int] | None = list(data["sm_cycles"]) if "sm_cycles" in data else None
        self.by_opcode: dict[str, dict[str, int]] = {k: dict(v) for k, v in data.get("by_opcode", {}).items()}
        self.by_pc: list[int] = list(data.get("by_pc", []))
        self.per_pc: dict[str, list[int]] = _per_pc_columns(data.get("per_pc"), len(self.by_pc))
        self.timeline: dict[str, Any] | None = data.get("timeline")
        self.issues: list[Issue] = [Issue(*i) for i in data.get("issues", [])]
        self.sample: dict[str, Any] | None = dict(data["sample"]) if "sample" in data else None

    @property
    def estimated(self) -> bool:
        """Whether the cycle model's statistics were extrapolated from a sample of the SMs
        (sampled timing that did not time every SM)."""
        return self.sample is not None and not self.sample["exact"]

    @property
    def timed(self) -> bool:
        """Whether the cycle model ran (its counters, metrics and sm_cycles are present)."""
        return self.sm_cycles is not None

    @property
    def cycles(self) -> int | None:
        """Kernel cycles from the cycle model (None when it did not run)."""
        return self.counters.get("cycles")

    def __getitem__(self, key: str):
        if key in self.counters:
            return self.counters[key]
        return self.metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self.counters or key in self.metrics

    def to_dict(self) -> dict[str, Any]:
        """{"counters", "by_opcode", "by_pc"} and, when the cycle model ran, "metrics" and "sm_cycles"."""
        d: dict[str, Any] = {"counters": dict(self.counters), "by_opcode": {k: dict(v) for k, v in self.by_opcode.items()},
                             "by_pc": list(self.by_pc)}
        if self.timed:
            d["metrics"] = dict(self.metrics)
            d["sm_cycles"] = list(self.sm_cycles or [])
            d["per_pc"] = {k: list(v) for k, v in self.per_pc.items()}
        d.update({k: v for k, v in self._data.items() if k not in d})
        return d

    def to_json(self, **kwargs) -> str:
        """``to_dict()`` as standard JSON: a non-finite metric is written as null."""
        return _json.dumps(self.to_dict(), sort_keys=True, **kwargs)

    def per_pc_records(self) -> list[dict[str, int]]:
        """``per_pc`` as one dict per instruction (pc order)."""
        cols = self.per_pc
        return [dict(zip(cols, row)) for row in zip(*cols.values())]

    def per_pc_array(self) -> np.ndarray:
        """``per_pc`` as a NumPy structured array (one uint64 field per column)."""
        cols = self.per_pc
        out = np.zeros(len(cols.get("pc", [])), dtype=[(k, np.uint64) for k in cols])
        for k, v in cols.items():
            out[k] = v
        return out

    def source_report(self, program, kernel: str | None = None, console=None, top: int | None = None) -> None:
        """Print the kernel's SASS with the per-instruction statistics beside each line, the
        hottest lines highlighted, basic blocks and loop bodies marked (:mod:`otc_emu.source_view`);
        ``top``: only the ``top`` hottest lines."""
        from .source_view import render

        render(self, program, kernel, console=console, top=top)

    def report(self, console=None, title: str | None = None) -> None:
        """Print an Nsight-Compute-like report (otc_emu.report) to ``console`` (a rich Console;
        default: the terminal)."""
        from .report import render

        render(self, console, title)

    def __repr__(self) -> str:
        c = self.counters
        timed = f", cycles={c.get('cycles')}" if self.timed else ""
        return (f"Stats(warp_instructions={c.get('warp_instructions')}, "
                f"thread_instructions={c.get('thread_instructions')}{timed})")


#: The per-instruction columns of :attr:`Stats.per_pc` after ``"pc"`` (otc_timing::PC_COLUMNS).
PC_COLUMNS = ("warp_instructions", "thread_instructions", "predicated_off_lanes", "regfile.bank_conflict_cycles",
              "tensor.busy_cycles", "stall.control", "stall.frontend", "stall.dependency", "stall.memory",
              "stall.unit_busy", "stall.register_bank", "stall.barrier", "stall.accumulation_buffer", "smem.wavefronts",
              "smem.bank_conflicts", "accbuf.bank_conflicts", "gmem.read_sectors", "gmem.write_sectors", "l1.hits",
              "l1.misses", "l2.hits", "l2.misses")


def _per_pc_columns(raw: Mapping[str, Sequence[int]] | None, instructions: int) -> dict[str, list[int]]:
    """The model's per-pc columns padded with zeros to every instruction of the kernel, "pc" first."""
    if not raw:
        return {}
    n = max([instructions] + [len(v) for v in raw.values()])
    out = {"pc": [16 * i for i in range(n)]}
    for k, v in raw.items():
        out[k] = list(v) + [0] * (n - len(v))
    return out


ConfigSource = Union[None, str, "os.PathLike[str]", Mapping[str, Any]]


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if not isinstance(k, str):
            raise ConfigError(f"setting names must be strings, got {k!r}")
        key = prefix + k
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def machines() -> dict[str, str]:
    """The machine descriptions shipped with otc-emu (crates/otc-timing/configs/), name -> one-line
    description: ``v100`` (the default) and ``dstc-paper`` (the DSTC paper's evaluation premises)."""
    return {name: description for name, description, _ in _core.MACHINES}


def machine_text(name: str) -> str:
    """The TOML text of shipped machine ``name`` (the keys it changes from ``v100``, with their
    sources); :class:`ConfigError` for an unknown name."""
    for n, _, text in _core.MACHINES:
        if n == name:
            return text
    raise ConfigError(f"unknown machine {name!r}; machines: {', '.join(machines())}")


def machine_settings(name: str | None) -> dict[str, Any]:
    """The settings (dotted cycle-model keys) that shipped machine ``name`` gives on top of the
    V100 description: none for ``v100`` or None."""
    if name is None:
        return {}
    if not isinstance(name, str):
        raise ConfigError(f"machine must be a machine name (a string), got {type(name).__name__}")
    text = machine_text(name)
    return {} if name == "v100" else dict(_core.read_config(text, f"machine {name}"))


def _settings(config: ConfigSource, overrides: Mapping[str, Any], machine: str | None = None) -> dict[str, Any]:
    """One flat dict of settings: the machine's, the config source's, then the overrides' (later
    wins)."""
    flat: dict[str, Any] = machine_settings(machine)
    if config is None:
        pass
    elif isinstance(config, Mapping):
        flat.update(_flatten(config))
    elif isinstance(config, str) and config.strip().lower() == "v100":
        pass  # the built-in description (_core.V100_TOML), the default
    elif isinstance(config, (str, os.PathLike)):
        path = os.fspath(config)
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
        flat.update(_core.read_config(text, str(path)))
    else:
        raise ConfigError(f"config must be None, 'v100', the path of a TOML file or a dict, got {type(config).__name__}")
    flat.update(_flatten(overrides))
    return flat


def _is_config_file(config: ConfigSource) -> bool:
    return isinstance(config, (str, os.PathLike)) and not (isinstance(config, str) and config.strip().lower() == "v100")


def _file_settings(config: str | os.PathLike, factory=None) -> dict[str, Any]:
    """The settings of the config file ``config`` alone, read once and checked by building
    ``factory`` (default ``_core.Device``) from them, so that an unknown or ill-typed key there is
    a ConfigError that names the file."""
    flat = _settings(config, {})
    try:
        (factory or _core.Device)(flat)
    except ConfigError as e:
        raise ConfigError(f"{os.fspath(config)}: {e}") from None
    return flat


def _core_object(factory, config: ConfigSource, overrides: Mapping[str, Any], machine: str | None = None):
    """``factory(settings)`` (``_core.Device`` or ``_core.Warp``); a config file's keys are checked
    alone first (:func:`_file_settings`)."""
    if _is_config_file(config):
        config = _file_settings(config, factory)
    return factory(_settings(config, overrides, machine))


@dataclass
class LaunchResult:
    """What a launch returns: its statistics."""

    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    stats: Stats


def _byte_view(a: np.ndarray) -> np.ndarray:
    """The bytes of the C-contiguous array ``a`` as a 1-D uint8 view (no copy), for the binding's
    ``read_into``/``write_array``."""
    return a.reshape(-1).view(np.uint8)


@dataclass(eq=False)
class DeviceArray:
    """An allocation in device global memory with a NumPy shape and dtype. It belongs to the
    :class:`Device` that made it: passing it to another device's launch raises
    :class:`LaunchError`. Its memory is freed by :meth:`free` or, at the latest, when the last
    reference to the array goes away."""

    device: "Device"
    address: int
    shape: tuple[int, ...]
    dtype: np.dtype
    _freed: bool = field(default=False, repr=False)
    _finalizer: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._finalizer is None:
            self._finalizer = weakref.finalize(self, _free_quietly, self.device._dev, self.address)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def numpy(self) -> np.ndarray:
        """Copy the array back to the host."""
        self._check()
        out = np.empty(self.shape, dtype=self.dtype)
        self.device._dev.read_into(self.address, _byte_view(out))  # straight into the new array
        return out

    def write(self, array) -> None:
        """Overwrite the array's contents from the host (same shape; converted to its dtype)."""
        self._check()
        a = np.require(np.asarray(array, dtype=self.dtype), requirements="C")  # (keeps 0-d arrays 0-d)
        if a.shape != self.shape:
            raise ValueError(f"shape {a.shape} does not match the device array's {self.shape}")
        self.device._dev.write_array(self.address, _byte_view(a))

    def free(self) -> None:
        """Free the device memory now (later uses raise OtcError); freeing twice does nothing."""
        if not self._freed:
            self._freed = True
            self._finalizer.detach()
            self.device._dev.free(self.address)

    def _check(self) -> None:
        if self._freed:
            raise OtcError(f"device array at {self.address:#x} was freed")

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 1


def _free_quietly(dev, address: int) -> None:
    """The finalizer of a DeviceArray (it may run at interpreter exit or on any thread)."""
    try:
        dev.free(address)
    except Exception:  # noqa: BLE001 - a finalizer must not raise
        pass


#: Launch dimensions and sizes are unsigned 32-bit on the device.
_U32_LIMIT = 2**32


def _uint(v, what: str) -> int:
    """An int or NumPy integer (not a bool, float or string) as a Python int."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what} must be an int or a NumPy integer, got {type(v).__name__} {_short_repr(v)}")
    return int(v)


def _short_repr(v, limit: int = 60) -> str:
    r = repr(v)
    return r if len(r) <= limit else r[: limit - 1] + "…"


def _dim3(v, what: str) -> tuple[int, int, int]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        t = (int(v), 1, 1)
    elif isinstance(v, (tuple, list)):
        if not 1 <= len(v) <= 3:
            raise LaunchError(f"{what} must be an int or a tuple of 1 to 3 ints, got {_short_repr(v)}")
        t = tuple(_uint(x, f"{what} dimension") for x in v) + (1,) * (3 - len(v))
    else:
        raise TypeError(f"{what} must be an int or a tuple of 1 to 3 ints, got {type(v).__name__} {_short_repr(v)}")
    if any(x < 1 for x in t):
        raise LaunchError(f"{what} {t} has a zero or negative dimension")
    if any(x >= _U32_LIMIT for x in t):
        raise LaunchError(f"{what} {t} has a dimension of 2**32 or more")
    return t  # type: ignore[return-value]


def _without_spaces(s: str) -> str:
    return "".join(s.split())


def find_kernel(program, name: str, where: str = "program") -> str:
    """The name under which ``program`` holds the kernel ``name``: the name itself, or for a C++
    kernel its mangled name given the demangled signature (``scale_add<float>(float const*, float*,
    float, int)``, spaces ignored) or the demangled name without parameters (``scale_add<float>``,
    ``fx::in_namespace``) when that names one kernel. Raises :class:`LaunchError` otherwise."""
    kernels = program.kernels
    if name in kernels:
        return name
    want = _without_spaces(name)
    full, short = [], []
    for mangled, k in kernels.items():
        demangled = k.demangled
        if demangled is None:
            continue
        if _without_spaces(demangled) == want:
            full.append(mangled)
        elif _without_spaces(demangled.split("(")[0]) == want:
            short.append(mangled)
    found = full or short
    if len(found) == 1:
        return found[0]
    if found:
        options = ", ".join(f"{kernels[m].demangled} ({m})" for m in sorted(found))
        raise LaunchError(f"{name!r} names {len(found)} kernels: {options}; give the full signature or the mangled name")
    listed = ", ".join(sorted(kernels)) or "none"
    raise LaunchError(f"{where} has no kernel {name!r}; it has {listed}")


def _host_dtype(dtype) -> np.dtype:
    """A dtype that device memory can hold: booleans, integers and floats (never objects)."""
    dt = np.dtype(dtype)
    if dt.kind not in "biuf":
        raise TypeError(f"device arrays hold booleans, integers and floats, not dtype {dt}")
    return dt


def _pack_args(device: "Device", kernel, args: Sequence[Any], kernel_name: str) -> bytes:
    params = kernel.params
    if params is not None and len(args) != len(params):
        names = ", ".join(f"{p.type} {p.name}" for p in params)
        raise LaunchError(f"kernel {kernel_name} takes {len(params)} arguments ({names}), got {len(args)}")
    buf = bytearray()
    for i, a in enumerate(args):
        p = params[i] if params is not None else None
        where = f"argument {i}" + (f" ({p.name}: {p.type})" if p else "")
        if isinstance(a, DeviceArray):
            a._check()
            if a.device is not device:
                raise LaunchError(f"{where}: the device array at {a.address:#x} belongs to {a.device!r}, "
                                  f"not to {device!r} that launches {kernel_name}")
            if p is not None and p.type not in ("ptr", "u64", "s64"):
                raise TypeError(f"{where}: a device array is a pointer, the kernel expects {p.type}")
            raw, size = int(a.address).to_bytes(8, "little"), 8
        elif isinstance(a, (bool, int, float)) and not isinstance(a, np.generic):
            hint = "np.int32 / np.uint32 / np.int64" if isinstance(a, int) else "np.float32 / np.float64"
            if p is not None and p.type in _PARAM_TYPES:
                hint = f"np.{_PARAM_TYPES[p.type][0].__name__}"
            raise TypeError(f"{where}: a bare Python {type(a).__name__} has no width; pass a NumPy scalar such as {hint}({a!r})")
        elif isinstance(a, _SCALARS):
            if p is not None:
                if p.type == "ptr":
                    raise TypeError(f"{where}: expects a device array (pointer), got {type(a).__name__}")
                if not isinstance(a, _PARAM_TYPES[p.type]):
                    raise TypeError(f"{where}: expects np.{_PARAM_TYPES[p.type][0].__name__}, got np.{type(a).__name__}")
            raw = np.asarray(a).tobytes()
            size = len(raw)
        else:
            raise TypeError(f"{where}: expected a DeviceArray or a NumPy scalar, got {type(a).__name__}")
        offset = p.offset - 0x160 if p is not None else -(-len(buf) // size) * size
        if len(buf) < offset:
            buf.extend(b"\0" * (offset - len(buf)))
        buf[offset:offset + size] = raw
    return bytes(buf)


#: Streaming multiprocessors of the V100 (the shipped cycle-model description).
V100_SMS = 80


#: Sampled timing (``timing="sampled"``) simulates the CTAs of one SM in this many of those that get
#: CTAs, at least 2 (docs/timing.md "Sampled timing"; otc_timing::sample::DEFAULT_FRACTION).
SAMPLE_FRACTION = 8

#: The values of the ``timing`` argument of :meth:`Device.launch` (and of the GEMM and convolution
#: wrappers): full timing, or sampled timing (optionally ``"sampled:N"``, N SMs).
TIMING_MODES = ("full", "sampled")


_TIMING: contextvars.ContextVar[str | None] = contextvars.ContextVar("otc_emu_timing", default=None)


@contextlib.contextmanager
def timing_mode(timing: str | None) -> Iterator[None]:
    """Every launch inside the block whose ``timing`` argument is None uses ``timing`` (``"full"``,
    ``"sampled"``, ``"sampled:N"``; None: leave it as it is): what ``kernels.gemm(...,
    timing=...)`` and ``conv2d(..., timing=...)`` use, and a way to run whole experiments
    sampled. The value is checked at each launch."""
    if timing is None:
        yield
        return
    token = _TIMING.set(timing)
    try:
        yield
    finally:
        _TIMING.reset(token)


def timing_sample(timing: str | None, timing_config: Mapping[str, Any] | None) -> int | None:
    """The number of SMs to time for the ``timing`` argument of a launch (None: every SM; 0: the
    default sample, one in :data:`SAMPLE_FRACTION`), after checking it against the device's cycle-model
    configuration (None when timing is off)."""
    if timing is None:
        return None
    if not isinstance(timing, str):
        raise ConfigError(f"timing must be one of {', '.join(map(repr, TIMING_MODES))} or 'sampled:N', "
                          f"got {_short_repr(timing)}")
    mode, sep, count = timing.partition(":")
    if mode not in TIMING_MODES or (sep and mode != "sampled"):
        raise ConfigError(f"timing must be one of {', '.join(map(repr, TIMING_MODES))} or 'sampled:N', got {timing!r}")
    if timing_config is None:
        raise ConfigError(f"timing={timing!r} needs the cycle model, but this Device was made with timing=False")
    if mode == "full":
        return None
    if str(timing_config.get("gpu.cta_dispatch", "static")).lower() == "dynamic":
        raise ConfigError(f"timing={timing!r}: sampled timing needs static CTA placement, but this device has "
                          "gpu.cta_dispatch = 'dynamic' (use timing='full' or gpu.cta_dispatch = 'static')")
    if not sep:
        return 0  # the default sample (SAMPLE_FRACTION)
    sms = int(timing_config["gpu.num_sms"])
    if not count.isdigit() or not 1 <= int(count) <= sms:
        raise ConfigError(f"timing={timing!r}: N must be a whole number of SMs in 1..{sms} (gpu.num_sms)")
    return int(count)


class Device:
    """An emulated V100-like GPU with its own global memory, and the cycle model beside it.

    ``config`` is None or ``"v100"`` (the V100 description, built in), the path of a TOML file
    (the cycle model's format, crates/otc-timing/configs/v100.toml, giving only the keys to
    change, plus an optional ``[device]`` table with the functional settings), or a dict.
    Keyword ``overrides`` (and the dict) take the functional settings (``tensor_arith="ieee"``,
    ``num_sms``, ``threads=1``, ``max_instructions=10_000_000``, ... see ``Device.settings()``),
    ``timing=False`` to switch the cycle model off, and cycle-model keys, dotted or nested:
    ``Device(**{"tensor.skipped_cycles": 1})``, ``Device(tensor={"skipped_cycles": 1})``.
    ``num_sms`` also sets the model's ``gpu.num_sms`` unless that is given. Unknown or ill-typed
    settings raise :class:`ConfigError` naming the setting.

    ``machine`` names a shipped machine description (:func:`otc_emu.machines`: ``"v100"``, the
    default, or ``"dstc-paper"``); ``config`` and the overrides apply on top of it. An unknown
    name raises :class:`ConfigError`.
    """

    _count = itertools.count(1)

    def __init__(self, config: ConfigSource = None, machine: str | None = None, **overrides):
        self._dev = _core_object(_core.Device, config, overrides, machine)
        self.machine = machine or "v100"
        self.number = next(Device._count)

    def __repr__(self) -> str:
        return f"<otc_emu.Device #{self.number}>"

    @classmethod
    def v100_slice(cls, sms: int, machine: str | None = None, config: ConfigSource = None, **overrides) -> "Device":
        """The V100 on ``sms`` of its 80 SMs, with the L2 and DRAM bandwidth scaled by ``sms / 80``
        so that each SM keeps its share. A problem on a few SMs then sees the per-SM load (CTAs one
        after another, bandwidth per SM) of an 80-times larger problem on the whole GPU, at a
        fraction of the emulation time; the L2's capacity is not scaled. ``machine``, ``config`` and
        ``overrides`` as for :class:`Device` (the bandwidths scaled are the machine's and config's);
        ``sms=80`` is the plain V100."""
        if isinstance(sms, bool) or not isinstance(sms, (int, np.integer)) or not 1 <= sms <= V100_SMS:
            raise ValueError(f"sms must be an integer in 1..{V100_SMS}, got {sms!r}")
        timing = cls(config, machine=machine, timing=True).timing_config
        scale = int(sms) / V100_SMS
        scaled = {key: timing[key] * scale for key in ("memory.l2_bandwidth_gbs", "memory.dram_bandwidth_gbs")}
        return cls(config, machine=machine, num_sms=int(sms), **{**scaled, **overrides})

    @property
    def config(self) -> dict[str, Any]:
        """The functional settings in force, and ``timing`` (whether the cycle model runs)."""
        return dict(self._dev.config())

    @property
    def timing_config(self) -> dict[str, Any] | None:
        """Every key of the cycle model's configuration with its value, or None when it is off."""
        return self._dev.timing_config()

    @property
    def last_cosim(self) -> str | None:
        """How the last launch used the co-simulation (``Device(cosim=True)``, docs/timing.md):
        ``"co-simulated"``, the reason it fell back to the linear path (same results, today's
        statistics), or None when it did not try."""
        return self._dev.last_cosim()

    @property
    def last_trace_peak_bytes(self) -> int | None:
        """The most bytes of CTA traces (packed events and access streams) the cycle model held
        at once during the last launch, or None when it was not timed (docs/timing.md
        "Bounding it"). What ``cosim=True`` bounds; not a statistic (it depends on how CTAs are
        fed, so it is not in ``Stats``)."""
        return self._dev.last_trace_peak_bytes()

    def resident_ctas(self, threads: int, regs: int, shared_bytes: int = 0) -> int | None:
        """How many CTAs of ``threads`` threads, ``regs`` registers per thread and ``shared_bytes``
        of shared memory the cycle model's GPU holds at once: its SMs times the CTAs one SM holds by
        warps, threads, registers and shared memory (occupancy); None when timing is off. A CTA that
        cannot be resident at all is a :class:`LaunchError`."""
        sizes = [_uint(v, what) for v, what in ((threads, "threads"), (regs, "regs"), (shared_bytes, "shared_bytes"))]
        if any(not 0 <= v < _U32_LIMIT for v in sizes):
            raise LaunchError(f"resident_ctas: threads, regs and shared_bytes must be in 0..2**32-1, got {sizes}")
        return self._dev.resident_ctas(*sizes)

    @staticmethod
    def settings() -> dict[str, str]:
        """The functional settings with their descriptions."""
        return dict(_core.Device.settings())

    def empty(self, shape, dtype=np.float32) -> DeviceArray:
        """An uninitialised array (zeroed in practice). ``shape`` is an int or a tuple of ints;
        ``dtype`` a boolean, integer or float type."""
        if isinstance(shape, (tuple, list)):
            shp = tuple(_uint(s, "a shape dimension") for s in shape)
        else:
            shp = (_uint(shape, "shape"),)
        if any(s < 0 for s in shp):
            raise ValueError(f"negative dimension in shape {shp}")
        dt = _host_dtype(dtype)
        nbytes = math.prod(shp) * dt.itemsize  # Python ints: never overflows
        if nbytes >= 2**63:
            raise OtcError(f"device memory: an array of shape {shp} and dtype {dt} needs {nbytes} bytes, "
                           f"more than any allocation can hold")
        addr = self._dev.alloc(max(nbytes, 1), max(dt.itemsize, 16))
        return DeviceArray(self, addr, shp, dt)

    def zeros(self, shape, dtype=np.float32) -> DeviceArray:
        # every allocation starts zero-filled (otc_sim's GlobalMemory::alloc), freed memory too
        return self.empty(shape, dtype)

    def to_device(self, array) -> DeviceArray:
        a = np.require(np.asarray(array), requirements="C")  # (ascontiguousarray makes 0-d arrays 1-d)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"cannot copy an array of dtype {a.dtype} to the device")
        arr = self.empty(a.shape, a.dtype)
        self._dev.write_array(arr.address, _byte_view(a))
        return arr

    def write_constant(self, bank: int, offset: int, data) -> None:
        """Write ``data`` (bytes or a NumPy array, its raw bytes) into constant bank ``bank``
        (1..17) at byte ``offset``, as ``cudaMemcpyToSymbol`` does for ``__constant__`` data
        (bank 3 from offset 0, in declaration order). A bank written this way takes precedence
        over the images a kernel brings from a cubin (``Kernel.constants``)."""
        raw = _constant_bytes(bank, offset, data, 1, " (bank 0 holds the launch parameters)")
        self._dev.write_constant(int(bank), int(offset), raw)

    def global_address(self, program, name: str) -> int:
        """The device address of the ``__device__`` variable ``name`` of ``program``
        (``Program.globals``, from a cubin): ``cudaGetSymbolAddress``. A program's variables are
        allocated and initialised on this device at its first launch (or first access through
        these methods) and keep their values across launches. Raises :class:`LaunchError` for a
        name the program does not have."""
        return self._dev.global_symbol(program, name)[0]

    def read_global(self, program, name: str, dtype=np.uint8) -> np.ndarray:
        """The bytes of the ``__device__`` variable ``name`` of ``program`` on this device, viewed
        as ``dtype``: ``cudaMemcpyFromSymbol`` (see :meth:`global_address`)."""
        address, size = self._dev.global_symbol(program, name)
        return np.frombuffer(self._dev.read(address, size), dtype=_host_dtype(dtype)).copy()

    def write_global(self, program, name: str, data) -> None:
        """Overwrite the ``__device__`` variable ``name`` of ``program`` on this device with the
        raw bytes of ``data`` (bytes or a NumPy array; at most the variable's size):
        ``cudaMemcpyToSymbol``."""
        address, size = self._dev.global_symbol(program, name)
        raw = np.ascontiguousarray(data).tobytes() if isinstance(data, np.ndarray) else bytes(data)
        if len(raw) > size:
            raise ValueError(f"{len(raw)} bytes do not fit in __device__ variable {name} ({size} bytes)")
        self._dev.write(address, raw)

    def launch(self, program, kernel_name: str, grid, block, args: Iterable[Any] = (), shared_bytes: int | None = None,
               timeline=None, timing: str | None = None) -> LaunchResult:
        """Run ``kernel_name`` of ``program`` over ``grid`` x ``block`` threads. ``grid`` and
        ``block`` are an int or a tuple of 1 to 3 ints (NumPy integers too; anything else is a
        TypeError); ``shared_bytes`` is dynamic shared memory added to the kernel's static size.
        ``timeline``: a :class:`otc_emu.timeline.Window` for the cycle model to record a timeline
        of (into ``stats.timeline``; default: the window of an enclosing
        ``otc_emu.timeline.recording()``, else none). Raises :class:`LaunchError` for bad launch
        parameters (before anything runs: a dimension of 0 or >= 2**32, a device array of another
        Device, ...), :class:`GuestFault` for faults (the watchdogs included: kind
        ``"watchdog"``), and ``KeyboardInterrupt`` on Ctrl-C (the launch stops within a few
        milliseconds; device memory stays readable). Several threads may launch on one Device:
        the launches run one after another. ``kernel_name`` may be the mangled name of a C++
        kernel or its demangled form (see :func:`find_kernel`).

        ``timing``: ``"full"`` times every CTA (``None``: that of an enclosing
        :func:`timing_mode`, else full); ``"sampled"`` (or ``"sampled:N"``)
        times only the CTAs of one in :data:`SAMPLE_FRACTION` (at least 2; or N) spread-out SMs
        of those that get CTAs and extrapolates the cycle
        model's statistics (``stats.sample`` says what was timed and the expected error of the
        cycles; docs/timing.md "Sampled timing"). Results are exact either way. A bad value, or
        timing on a Device made with ``timing=False``, raises :class:`ConfigError`."""
        from .timeline import active_window
        timing = timing if timing is not None else _TIMING.get()
        sample_sms = None if timing is None else timing_sample(timing, self.timing_config)
        kernels = program.kernels
        kernel_name = find_kernel(program, kernel_name)
        g, b = _dim3(grid, "grid"), _dim3(block, "block")
        params = _pack_args(self, kernels[kernel_name], list(args), kernel_name)
        dyn = 0 if shared_bytes is None else _uint(shared_bytes, "shared_bytes")
        if not 0 <= dyn < _U32_LIMIT:
            raise LaunchError(f"shared_bytes must be in 0..2**32-1, got {dyn}")
        window = timeline if timeline is not None else active_window()
        request = None if window is None else (int(window.cycles[0]), int(window.cycles[1]), [int(s) for s in window.sms])
        stats = self._dev.launch(program, kernel_name, g, b, params, dyn, request, sample_sms)
        return LaunchResult(kernel_name, g, b, Stats(stats, kernel_name))


def _constant_bytes(bank, offset, data, lowest_bank: int, why: str) -> bytes:
    """The raw bytes of ``data`` for a constant-bank write, after checking ``bank`` and ``offset``."""
    raw = np.ascontiguousarray(data).tobytes() if isinstance(data, np.ndarray) else bytes(data)
    if isinstance(bank, bool) or not isinstance(bank, (int, np.integer)) or not lowest_bank <= bank <= 17:
        raise ValueError(f"bank must be an integer in {lowest_bank}..17{why}, got {bank!r}")
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}")
    return raw


class Warp:
    """One warp (32 lanes, all active) on a fresh SM, for instruction-level tests.

        w = otc_emu.Warp()
        w.write_reg(1, np.arange(32, dtype=np.uint32))
        w.run("IADD3 R0, R1, 0x5, RZ ;")
        w.read_reg(0)

    ``Warp(timing=True)`` also runs the cycle model (the V100 machine; dotted keys such as
    ``**{"units.fp32.latency": 4}`` change it): each ``run`` is then timed as the warp alone in a
    32-thread CTA on one SM, and its :class:`Stats` carry the model's counters (``cycles``,
    ``tensor.busy_cycles``, ``stall.<reason>``, ...) and ``issues``, the cycle of every issue.
    Results are the same timed or not.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, **overrides):
        self._warp = _core_object(_core.Warp, config, overrides)

    def write_reg(self, index: int, values) -> None:
        v = np.asarray(values)
        if v.shape != (32,):
            raise ValueError(f"write_reg takes 32 lane values, got shape {v.shape}")
        if v.dtype.kind == "f":
            v = v.astype({2: np.float16, 4: np.float32}.get(v.dtype.itemsize, np.float32))
            v = v.view(np.uint16).astype(np.uint32) if v.dtype == np.float16 else v.view(np.uint32)
        self._warp.write_reg(int(index), np.ascontiguousarray(v.astype(np.uint64) & 0xFFFFFFFF, dtype=np.uint32))

    def read_reg(self, index: int) -> np.ndarray:
        return np.asarray(self._warp.read_reg(int(index)), dtype=np.uint32)

    def write_pred(self, index: int, values) -> None:
        v = np.asarray(values)
        if v.ndim == 0:
            mask = int(v) & 0xFFFFFFFF
        else:
            if v.shape != (32,):
                raise ValueError(f"write_pred takes a 32-bit lane mask or 32 booleans, got shape {v.shape}")
            mask = int(sum(1 << i for i, x in enumerate(v.astype(bool)) if x))
        self._warp.write_pred(int(index), mask)

    def read_pred(self, index: int) -> np.ndarray:
        mask = int(self._warp.read_pred(int(index)))
        return np.array([(mask >> i) & 1 for i in range(32)], dtype=bool)

    def write_constant(self, bank: int, offset: int, data) -> None:
        """Write ``data`` (bytes or a NumPy array, its raw bytes) into constant bank ``bank``
        (0..17, 64 KiB each) at byte ``offset``, for ``LDC`` and ``c[bank][offset]`` operands. Bank
        0 starts with the harness's launch header (blockDim at 0x0, the stack top at 0x28)."""
        raw = _constant_bytes(bank, offset, data, 0, "")
        self._warp.write_constant(int(bank), int(offset), raw)

    def run(self, source_or_program) -> Stats:
        """Run instructions (source text or a Program with one kernel) until EXIT or the end."""
        from . import assemble

        prog = assemble(source_or_program, "<warp>") if isinstance(source_or_program, str) else source_or_program
        return Stats(self._warp.run(prog))
