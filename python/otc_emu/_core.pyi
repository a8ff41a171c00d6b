"""Type stub for the compiled module ``otc_emu._core`` (crates/otc-python)."""

import os
from collections.abc import Mapping
from typing import Any, final

import numpy as np
import numpy.typing as npt

__version__: str

class OtcError(Exception):
    """Base class of every error otc-emu raises."""

class AssemblyError(OtcError):
    """Source text or a binary program that cannot be read.

    ``str(e)`` is ``source:line:column: message`` (line and column left out when 0).
    """

    kind: str
    """One of: syntax, unknown-mnemonic, bad-modifier, operand-count, operand-kind,
    out-of-range, bad-register-group, label, bad-target, directive, listing, binary-format, cubin, other."""
    source_name: str
    line: int
    """1-based line; 0 when the error has no line (binary programs, whole-file errors)."""
    column: int
    """1-based column; 0 when unknown."""
    message: str
    """The message without the location."""

class GuestFault(OtcError):
    """The emulated program did something illegal (bad address, misaligned access, ...).
    Device memory stays readable afterwards."""

    kind: str
    """out_of_bounds, misaligned, illegal_instruction, unsupported_instruction,
    register_out_of_range, barrier_deadlock, watchdog, trap, pc_out_of_range, ..."""
    kernel: str
    pc: int
    """Byte offset of the faulting instruction."""
    cta: tuple[int, int, int]
    warp: int
    """Warp index inside the CTA."""
    lanes: list[int]
    lane_mask: int
    instruction: str
    """Canonical text of the faulting instruction."""
    message: str
    address: int | None

class LaunchError(OtcError):
    """A launch that cannot start: bad grid, block, arguments or resources."""

class ConfigError(OtcError):
    """An unknown or ill-typed setting; the message names it."""

class Device:
    """The emulated GPU and its global memory (wrapped by otc_emu.Device)."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None: ...
    def config(self) -> dict[str, Any]: ...
    def timing_config(self) -> dict[str, Any] | None:
        """The cycle model's configuration (dotted key -> value), or None when timing is off."""
    def last_cosim(self) -> str | None:
        """How the last launch used the co-simulation: "co-simulated", the fallback's reason, or None."""
    def last_trace_peak_bytes(self) -> int | None:
        """The most bytes of CTA traces the cycle model held at once in the last launch, or None."""
    @staticmethod
    def settings() -> dict[str, str]:
        """Every setting with its description."""
    def alloc(self, nbytes: int, align: int) -> int: ...
    def free(self, address: int) -> None: ...
    def write(self, address: int, data: bytes) -> None: ...
    def write_array(self, address: int, data: np.ndarray) -> None:
        """Write a contiguous uint8 array's bytes at ``address`` (no copy on the way)."""
    def read(self, address: int, nbytes: int) -> bytes: ...
    def read_into(self, address: int, out: np.ndarray) -> None:
        """Read ``out.size`` bytes at ``address`` into the contiguous uint8 array ``out``."""
    def resident_ctas(self, threads: int, regs: int, shared: int) -> int | None:
        """CTAs of this shape the cycle model's GPU holds at once, or None when timing is off."""
    def write_constant(self, bank: int, offset: int, data: bytes) -> None: ...
    def global_symbol(self, program: Program, name: str) -> tuple[int, int]: ...
    def launch(
        self,
        program: Program,
        name: str,
        grid: tuple[int, int, int],
        block: tuple[int, int, int],
        params: bytes,
        dynamic_shared: int = 0,
        timeline: tuple[int, int, list[int]] | None = None,
        sample_sms: int | None = None,
    ) -> dict[str, Any]:
        """Run a kernel; returns {"counters", "by_opcode", "by_pc"} and, when the cycle model
        ran, "metrics", "sm_cycles", "per_pc" (column -> values per instruction) and, when
        ``timeline`` = (first cycle, end cycle, SMs) asked for one, "timeline" ({"from", "to",
        "sms", "events": [(kind, sm, unit, slot, warp, pc, start, end, detail)]}); with
        ``sample_sms`` (sampled timing: only the CTAs of that many SMs are timed) also "sample"."""

class Warp:
    """One warp on a fresh SM, for instruction-level tests (wrapped by otc_emu.Warp)."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None: ...
    def write_reg(self, index: int, values: npt.NDArray[np.uint32]) -> None: ...
    def read_reg(self, index: int) -> npt.NDArray[np.uint32]: ...
    def write_pred(self, index: int, mask: int) -> None: ...
    def read_pred(self, index: int) -> int: ...
    def set_lanes(self, mask: int) -> None: ...
    def write_shared(self, offset: int, data: bytes) -> None: ...
    def read_shared(self, offset: int, nbytes: int) -> bytes: ...
    def write_constant(self, bank: int, offset: int, data: bytes) -> None: ...
    def run(self, program: Program) -> dict[str, Any]:
        """Statistics; with settings {"timing": True} also the cycle model's counters, metrics and
        "issues": [(pc, issue cycle, result cycle, sub-core)] in issue order."""

def read_config(text: str, name: str) -> dict[str, Any]:
    """The keys of a TOML configuration file as a flat dict of dotted names (the [device] table
    as ``device.<name>``); raises ConfigError for bad TOML."""

V100_TOML: str
"""The shipped V100 machine description of the cycle model (crates/otc-timing/configs/v100.toml)."""
#: The shipped machine descriptions: (name, one-line description, TOML text).
MACHINES: list[tuple[str, str, str]]
#: `.param` type name -> the NumPy dtype name of its values (``ptr``: ``uint64``, the device address).
PARAM_TYPES: dict[str, str]

def fragment_layout(
    instruction: str, operand: str, layout: str
) -> tuple[dict[str, int], list[tuple[int, int, int, int, int, int]]]:
    """({matrices, rows, cols, bits, regs}, [(lane, reg, half, matrix, row, col), ...])."""

@final
class Param:
    """A declared kernel parameter: name, type and byte offset in constant bank 0."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str:
        """u8 s8 u16 s16 u32 s32 u64 s64 f16 f32 f64 ptr"""
    @property
    def offset(self) -> int:
        """Byte offset in constant bank 0 (parameters start at 0x160)."""
    @property
    def size(self) -> int:
        """Size in bytes (also the alignment)."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Kernel:
    """One kernel of a Program. Immutable."""

    @property
    def name(self) -> str: ...
    @property
    def params(self) -> list[Param] | None:
        """Declared parameters in order; None when undeclared (a cuobjdump listing)."""
    @property
    def num_regs(self) -> int:
        """Registers per thread: declared or inferred from the code."""
    @property
    def regs_declared(self) -> bool: ...
    @property
    def shared_bytes(self) -> int | None:
        """Static shared memory per CTA in bytes; None when unknown."""
    @property
    def local_bytes(self) -> int | None:
        """Local memory per thread in bytes; None when unknown."""
    def __len__(self) -> int:
        """Number of instructions."""
    def instructions(self) -> list[str]:
        """Canonical text of each instruction (no control code, no ``;``)."""
    def source_lines(self) -> list[int]:
        """Source line of each instruction (0 = none)."""
    @property
    def demangled(self) -> str | None:
        """The demangled C++ name (no return type), or None for a plain name."""
    def unsupported(self) -> list[tuple[int, str, str]]:
        """(pc, text, reason) of each instruction this emulator does not execute."""
    @property
    def constants(self) -> dict[int, bytes]:
        """Constant-bank images {bank: bytes from offset 0} loaded at launch (from a cubin)."""
    @property
    def relocations(self) -> list[tuple[int, str, int | str]]:
        """(pc, ELF type name, target) of each address a launch patches into the code (from a
        cubin): a ``__device__`` variable's offset in the global segment, or ``"FUNCTION+0x1e0"``
        for a call target or return address in another function (-G code)."""
    def disassemble(self) -> str:
        """Canonical text of this kernel alone."""

@final
class Program:
    """An assembled program: one or more kernels. Immutable."""

    @property
    def kernels(self) -> Mapping[str, Kernel]:
        """Read-only mapping kernel name -> Kernel, in source order."""
    def to_bytes(self) -> bytes:
        """The binary format (versioned, checksummed)."""
    @staticmethod
    def from_bytes(data: bytes | bytearray, name: str = "<bytes>") -> Program:
        """Read the binary format. Raises AssemblyError (kind 'binary-format')."""
    @staticmethod
    def from_cubin(cubin: str | os.PathLike[str] | bytes, kernel: str | None = None) -> Program:
        """An nvcc .cubin, code decoded from its sm_70 words. Raises AssemblyError (kind 'cubin')."""
    def disassemble(self) -> str:
        """Canonical text (the own dialect) that assembles back to the same code."""
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the binary format to ``path``."""
    @property
    def globals(self) -> dict[str, tuple[int, int]]:
        """The ``__device__`` variables (from a cubin): {name: (offset in the global segment, size)}."""
    def __eq__(self, other: object) -> bool:
        """Equal when kernels, code, metadata and source line numbers are all equal."""

def assemble(text: str, name: str = "<input>", cubin: bytes | None = None) -> Program:
    """Assemble the own dialect or a cuobjdump -sass listing. ``cubin``: the bytes of the .cubin
    the listing came from (or the text of ``cuobjdump -elf``); its constant banks 1..17 become
    ``Kernel.constants``, its ``__device__`` variables ``Program.globals`` and the relocations of
    the code against them ``Kernel.relocations``. Raises AssemblyError (kind 'cubin' for an
    unreadable or mismatched cubin)."""

def load(path: str | os.PathLike[str], cubin: str | os.PathLike[str] | None = None) -> Program:
    """Load a binary program or source text (decided by content), with the constant banks of
    the .cubin at ``cubin`` if given. Raises AssemblyError or OSError."""

def _panic_for_tests(message: str) -> None:
    """Panic inside the binding on purpose; arrives as OtcError('internal error: ...')."""
