"""otc-emu: an emulator of a V100 (sm_70) SM that runs real Volta SASS, with outer-product tensor cores.

The public API::

    import otc_emu
    prog = otc_emu.assemble(text, "saxpy.sass")    # own dialect or a cuobjdump -sass listing
    prog = otc_emu.load("saxpy.otc")               # binary program or source text, by content
    k = prog.kernels["saxpy"]                      # read-only mapping name -> Kernel
    k.params, k.num_regs, k.instructions()
    prog.to_bytes(); prog.save(path); otc_emu.Program.from_bytes(data)

Every error raised on purpose is an :class:`OtcError`; bad source or binary input raises
:class:`AssemblyError` with ``.kind``, ``.line``, ``.column`` and ``.source_name``.
"""

from ._core import (
    AssemblyError,
    GuestFault,
    Kernel,
    LaunchError,
    OtcError,
    Param,
    Program,
    __version__,
    assemble,
    load,
)

__all__ = [
    "assemble",
    "load",
    "Program",
    "Kernel",
    "Param",
    "OtcError",
    "AssemblyError",
    "GuestFault",
    "LaunchError",
    "__version__",
]
