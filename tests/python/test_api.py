"""The public API: what `otc_emu` exports, the exception tree, and the `_core.pyi` stub."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import otc_emu
from otc_emu import _core

# Names re-exported unchanged from the compiled module.
PUBLIC = {
    "assemble", "load", "Program", "Kernel", "Param",
    "OtcError", "AssemblyError", "GuestFault", "LaunchError", "ConfigError", "__version__", "V100_TOML",
}
# Names defined in Python on top of it.
PYTHON = {"load_cubin", "Device", "DeviceArray", "LaunchResult", "Stats", "Issue", "Warp", "find_kernel", "fragments", "kernels", "report", "sparse",
          "machines", "timing_mode"}


def test_all_is_the_public_api():
    assert set(otc_emu.__all__) == PUBLIC | PYTHON
    for name in PUBLIC:
        assert getattr(otc_emu, name) is getattr(_core, name)
    for name in PYTHON:
        assert getattr(otc_emu, name) is not None


def test_version_matches_the_package_metadata():
    from importlib.metadata import version

    assert otc_emu.__version__ == version("otc-emu")


@pytest.mark.parametrize(
    "cls, base",
    [
        (otc_emu.OtcError, Exception),
        (otc_emu.AssemblyError, otc_emu.OtcError),
        (otc_emu.GuestFault, otc_emu.OtcError),
        (otc_emu.LaunchError, otc_emu.OtcError),
        (otc_emu.ConfigError, otc_emu.OtcError),
    ],
)
def test_exception_tree(cls, base):
    assert cls.__bases__ == (base,)
    assert cls.__module__ == "otc_emu"  # tracebacks say otc_emu.AssemblyError
    assert cls.__doc__


def test_exceptions_can_be_raised_from_python():
    with pytest.raises(otc_emu.OtcError, match="bad launch"):
        raise otc_emu.LaunchError("bad launch")


def test_classes_are_not_constructible_from_python():
    for cls in (otc_emu.Program, otc_emu.Kernel, otc_emu.Param):
        with pytest.raises(TypeError):
            cls()


# ---------------------------------------------------------------------------------- the stub

STUB = Path(otc_emu.__file__).with_name("_core.pyi")


def _stub_names() -> tuple[set[str], dict[str, set[str]]]:
    tree = ast.parse(STUB.read_text())
    top: set[str] = set()
    members: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            members[node.name] = {
                n.name if isinstance(n, ast.FunctionDef) else n.target.id
                for n in node.body
                if isinstance(n, ast.FunctionDef) or (isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name))
            }
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
    return top, members


def _runtime_members(cls) -> set[str]:
    own = {n for n in vars(cls) if not n.startswith("__") or n in ("__len__", "__eq__", "__hash__")}
    return own


def test_stub_lists_every_runtime_name():
    top, _ = _stub_names()
    runtime = {n for n in dir(_core) if not n.startswith("__") or n == "__version__"}
    assert top == runtime


@pytest.mark.parametrize("cls", [otc_emu.Program, otc_emu.Kernel, otc_emu.Param], ids=lambda c: c.__name__)
def test_stub_lists_every_class_member(cls):
    _, members = _stub_names()
    runtime = _runtime_members(cls)
    stub = members[cls.__name__]
    assert runtime - {"__hash__", "__eq__"} <= stub, runtime - stub
    assert stub - {"__eq__", "__hash__"} <= runtime, stub - runtime


def test_stub_lists_assembly_error_attributes():
    _, members = _stub_names()
    try:
        otc_emu.assemble("IMDA ;")
    except otc_emu.AssemblyError as e:
        attrs = {n for n in vars(e) if not n.startswith("_")}
    assert attrs == members["AssemblyError"] == {"kind", "source_name", "line", "column", "message"}


@pytest.mark.parametrize("func, params", [
    (otc_emu.assemble, ["text", "name", "cubin"]),
    (otc_emu.load, ["path", "cubin"]),
    (otc_emu.Program.from_bytes, ["data", "name"]),
])
def test_signatures_accept_keywords(func, params):
    assert list(inspect.signature(func).parameters) == params


def test_keyword_arguments():
    prog = otc_emu.assemble(text="EXIT ;", name="kw.sass")
    assert otc_emu.Program.from_bytes(data=prog.to_bytes(), name="kw.otc") == prog
    with pytest.raises(otc_emu.AssemblyError) as info:
        otc_emu.assemble(text="IMDA ;", name="kw.sass")
    assert info.value.source_name == "kw.sass"
