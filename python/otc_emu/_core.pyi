"""Type stub for the compiled module ``otc_emu._core`` (crates/otc-python)."""

import os
from collections.abc import Mapping
from typing import final

__version__: str

class OtcError(Exception):
    """Base class of every error otc-emu raises."""

class AssemblyError(OtcError):
    """Source text or a binary program that cannot be read.

    ``str(e)`` is ``source:line:column: message`` (line and column left out when 0).
    """

    kind: str
    """One of: syntax, unknown-mnemonic, bad-modifier, operand-count, operand-kind,
    out-of-range, bad-register-group, label, bad-target, directive, listing, binary-format, other."""
    source_name: str
    line: int
    """1-based line; 0 when the error has no line (binary programs, whole-file errors)."""
    column: int
    """1-based column; 0 when unknown."""
    message: str
    """The message without the location."""

class GuestFault(OtcError):
    """The emulated program did something illegal (bad address, misaligned access, ...)."""

class LaunchError(OtcError):
    """A launch that cannot start: bad grid, block, arguments or resources."""

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
    def disassemble(self) -> str:
        """Canonical text (the own dialect) that assembles back to the same code."""
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the binary format to ``path``."""
    def __eq__(self, other: object) -> bool:
        """Equal when kernels, code, metadata and source line numbers are all equal."""

def assemble(text: str, name: str = "<input>") -> Program:
    """Assemble the own dialect or a cuobjdump -sass listing. Raises AssemblyError."""

def load(path: str | os.PathLike[str]) -> Program:
    """Load a binary program or source text (decided by content). Raises AssemblyError or OSError."""

def _panic_for_tests(message: str) -> None:
    """Panic inside the binding on purpose; arrives as OtcError('internal error: ...')."""
