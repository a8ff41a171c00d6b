"""Bad input never crashes the process, never hangs, and only raises OtcError subclasses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import otc_emu
from otc_emu import AssemblyError, OtcError, Program, _core

# id -> source text. Each runs in a child process, so a crash (abort, stack overflow) is seen as
# a failure of this test instead of killing the test run.
PATHOLOGICAL = {
    "nul-bytes": "EXIT ;\0\0\0",
    "only-nul": "\0",
    "unbalanced-open-braces": "MOV R1, {{{{{{R2 ;",
    "unbalanced-close-braces": "MOV R1, }}}R2 ;",
    "mixed-brackets": "IADD3 R1, [R2}, {R3], RZ ;",
    "deep-brackets": "MOV R1, " + "[" * 100_000 + "R2" + "]" * 100_000 + " ;",
    "deep-braces": "MOV R1, " + "{" * 100_000 + "R2" + "}" * 100_000 + " ;",
    "many-prefixes": "FADD R1, " + "-" * 100_000 + "R2, R3 ;",
    "many-bars": "FADD R1, " + "|" * 100_001 + "R2, R3 ;",
    "many-nots": "LOP3.LUT R1, " + "~" * 100_000 + "R2, R3, R4, 0xc0, !PT ;",
    "many-commas": "IADD3 " + "," * 100_000 + " ;",
    "many-dots": "IADD3" + "." * 100_000 + " R1, R2, R3, RZ ;",
    "many-modifiers": "IADD3" + ".X" * 50_000 + " R1, R2, R3, RZ ;",
    "huge-register": "MOV R" + "9" * 10_000 + ", R1 ;",
    "huge-immediate": "MOV R1, 0x" + "f" * 10_000 + " ;",
    "huge-float": "FADD R1, R2, 1e" + "9" * 1000 + " ;",
    "huge-constant": "MOV R1, c[0x" + "f" * 1000 + "][0x0] ;",
    "long-label": "a" * 100_000 + ": BRA " + "a" * 100_000 + " ;",
    "long-kernel-name": ".kernel " + "k" * 100_000 + "\nEXIT ;",
    "long-line-of-blanks": " " * 1_000_000 + "EXIT ;",
    "many-labels-one-line": "x:" * 10_000 + " EXIT ;",
    "deep-comments": "/*" * 10_000 + "*/" * 10_000 + "EXIT ;",
    "control-junk": "[" + "B" * 10_000 + "] EXIT ;",
    "guard-junk": "@" + "!" * 10_000 + "P0 EXIT ;",
    "listing-junk": "code for sm_70\nFunction : k\n /*0000*/ " + "(" * 10_000 + " ;\n",
    "listing-huge-address": "code for sm_70\nFunction : k\n /*" + "f" * 1000 + "*/ EXIT ;\n",
    "listing-huge-word": "code for sm_70\nFunction : k\n /*0000*/ EXIT ;\n /* 0x" + "f" * 1000 + " */\n",
    "res-usage-junk": "code for sm_70\nFunction : k\n /*0000*/ EXIT ;\n Function k:\n REG:" + "9" * 100 + "\n",
    "surrogate-like": "MOV R1, R\udcff2 ;".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "unicode": "MOV R１, R2 ; // fullwidth digit\nЕXIT ;",
    "crlf": "NOP ;\r\nEXIT ;\r\n",
    "tabs-and-vt": "\tNOP\t;\v\f\nEXIT ;",
}

CHILD = textwrap.dedent(
    """
    import json, sys
    import otc_emu
    cases = json.loads(sys.stdin.read())
    out = {}
    for name, text in cases.items():
        print(name, file=sys.stderr, flush=True)  # the last name printed is the one that crashed
        try:
            otc_emu.assemble(text, name)
            out[name] = "ok"
        except otc_emu.AssemblyError as e:
            out[name] = "AssemblyError:" + e.kind
        except BaseException as e:
            out[name] = "UNEXPECTED " + type(e).__name__ + ": " + str(e)[:200]
    print(json.dumps(out))
    """
)


def test_pathological_sources_never_crash():
    run = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(PATHOLOGICAL),
        capture_output=True,
        text=True,
        timeout=300,
    )
    last = run.stderr.strip().splitlines()[-1:] if run.stderr else []
    assert run.returncode == 0, f"child died ({run.returncode}) on {last}: {run.stderr[-2000:]}"
    results = json.loads(run.stdout)
    assert set(results) == set(PATHOLOGICAL)
    unexpected = {k: v for k, v in results.items() if not (v == "ok" or v.startswith("AssemblyError:"))}
    assert not unexpected
    # a few that must be errors, not silently accepted
    for name in ("nul-bytes", "unbalanced-open-braces", "deep-brackets", "huge-register", "huge-immediate"):
        assert results[name].startswith("AssemblyError:"), (name, results[name])
    assert results["crlf"] == "ok" and results["tabs-and-vt"] in ("ok", "AssemblyError:syntax")


GARBAGE = {
    "empty": b"",
    "all-bytes": bytes(range(256)) * 4,
    "not-utf8": b"\xff\xfe\x00\x41",
    "png": b"\x89PNG\r\n\x1a\n" + bytes(100),
    "almost-magic": b"OTCPROG" + b"\x01" * 40,
    "zeros": bytes(4096),
    "elf": b"\x7fELF\x02\x01\x01" + bytes(57),
}


@pytest.mark.parametrize("data", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_files_raise_assembly_error(data: bytes, tmp_path: Path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(data)
    with pytest.raises(AssemblyError) as info:
        otc_emu.load(path)
    assert info.value.kind in ("syntax", "binary-format", "cubin")  # an ELF header: read as a cubin
    assert info.value.source_name == str(path)
    with pytest.raises(AssemblyError) as info:
        Program.from_bytes(data)
    assert info.value.kind == "binary-format"


def test_million_line_file_assembles_in_reasonable_time(tmp_path: Path):
    path = tmp_path / "million.sass"
    body = "    IADD3 R1, R2, R3, RZ ;\n" * 999_999
    path.write_text(".kernel big\n.param ptr x\n" + body + "    EXIT ;\n.end\n")
    script = textwrap.dedent(
        f"""
        import time, otc_emu
        t = time.perf_counter()
        p = otc_emu.load({str(path)!r})
        k = p.kernels["big"]
        data = p.to_bytes()
        back = otc_emu.Program.from_bytes(data)
        print(len(k), len(data), back == p, round(time.perf_counter() - t, 2))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    count, size, same, _seconds = run.stdout.split()
    assert int(count) == 1_000_000
    assert int(size) > 16 * 1_000_000 and same == "True"


def test_internal_panic_becomes_otc_error_not_panic_exception():
    with pytest.raises(OtcError) as info:
        _core._panic_for_tests("deliberate test panic")
    assert type(info.value) is OtcError  # the base class: not an AssemblyError
    assert str(info.value).startswith("internal error: deliberate test panic")
    # the binding still works afterwards
    assert len(otc_emu.assemble("EXIT ;").kernels["main"]) == 1


def test_assemble_releases_the_gil():
    """While one thread assembles a large text, another thread keeps running Python code."""
    text = "IADD3 R1, R2, R3, RZ ;\n" * 400_000
    otc_emu.assemble(text)  # warm up
    window: dict[str, float] = {}
    ticks: list[float] = []

    def worker():
        window["start"] = time.perf_counter()
        otc_emu.assemble(text, "big")
        window["end"] = time.perf_counter()

    thread = threading.Thread(target=worker)
    thread.start()
    while thread.is_alive():
        ticks.append(time.perf_counter())
    thread.join()
    inside = [t for t in ticks if window["start"] <= t <= window["end"]]
    duration = window["end"] - window["start"]
    points = [window["start"], *inside, window["end"]]
    longest_gap = max(b - a for a, b in zip(points, points[1:]))
    # holding the GIL for the whole call would leave one gap as long as the call
    assert longest_gap < 0.5 * duration, (longest_gap, duration, len(inside))
