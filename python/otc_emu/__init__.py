"""otc-emu: an emulator of a V100 (sm_70) SM that runs real Volta SASS, with outer-product tensor cores.

The public API::

    import otc_emu
    prog = otc_emu.assemble(text, "saxpy.sass")    # own dialect or a cuobjdump -sass listing
    prog = otc_emu.load("saxpy.otc")               # binary program or source text, by content
    prog = otc_emu.load_cubin("k.cubin", kernel="saxpy")  # an nvcc .cubin, code decoded from the ELF
    k = prog.kernels["saxpy"]                      # read-only mapping name -> Kernel
    k.params, k.num_regs, k.instructions()
    prog.to_bytes(); prog.save(path); otc_emu.Program.from_bytes(data)

Running kernels::

    dev = otc_emu.Device()                         # V100 defaults; Device(tensor_arith="ieee", ...)
    x = dev.to_device(np.arange(n, dtype=np.float32)); y = dev.zeros(n, np.float32)
    res = dev.launch(prog, "saxpy", grid=4, block=256, args=[x, y, np.float32(2), np.uint32(n)])
    y.numpy(); res.stats.counters["warp_instructions"]; res.stats.by_opcode
    res.stats.counters["cycles"]; res.stats.metrics["ipc"]  # the cycle model (Device(timing=False): off)
    otc_emu.Device(config="my_gpu.toml", **{"tensor.skipped_cycles": 1})
    w = otc_emu.Warp(); w.write_reg(1, lanes); w.run("IADD3 R0, R1, 0x5, RZ ;"); w.read_reg(0)

Every error raised on purpose is an :class:`OtcError`; bad source or binary input raises
:class:`AssemblyError` with ``.kind``, ``.line``, ``.column`` and ``.source_name``.
"""

from ._core import (
    AssemblyError,
    ConfigError,
    GuestFault,
    Kernel,
    LaunchError,
    OtcError,
    Param,
    Program,
    V100_TOML,
    __version__,
    assemble,
    load,
)
from . import fragments, sparse
from .device import Device, DeviceArray, Issue, LaunchResult, Stats, Warp, find_kernel, machines
from .device import timing_mode
from . import kernels, report  # noqa: E402  (need load and Device above)


def load_cubin(cubin, kernel=None):
    """An nvcc ``.cubin`` (a path or its bytes) as a Program, with no cuobjdump step: the code is
    decoded from its sm_70 instruction words (``Program.from_cubin``). ``kernel``: only that kernel."""
    return Program.from_cubin(cubin, kernel)

__all__ = [
    "assemble",
    "load",
    "load_cubin",
    "Program",
    "Kernel",
    "Param",
    "OtcError",
    "AssemblyError",
    "GuestFault",
    "LaunchError",
    "ConfigError",
    "Device",
    "DeviceArray",
    "LaunchResult",
    "Stats",
    "Issue",
    "Warp",
    "find_kernel",
    "machines",
    "timing_mode",
    "fragments",
    "kernels",
    "report",
    "sparse",
    "V100_TOML",
    "__version__",
]
