"""The resumable points file and the code version that keys it."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from .experiment import Experiment

__all__ = ["PACKAGE", "Store", "code_version", "emulator_files"]

#: The otc_emu package directory.
PACKAGE = Path(__file__).resolve().parent.parent


def code_version(files: Sequence[Path]) -> str:
    """A short hash of the files that decide a point's result (kernel programs, Python drivers,
    the compiled emulator). Changing any of them makes every stored point stale."""
    h = hashlib.sha256()
    for f in sorted(set(files)):
        h.update(f.name.encode())
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]



def emulator_files() -> list[Path]:
    """The kernel programs, the Python GEMM and sparse-format drivers and the compiled emulator."""
    from .. import _core

    return sorted(PACKAGE.joinpath("programs").glob("*.sass")) + [PACKAGE / "kernels.py", PACKAGE / "sparse.py",
                                                                   PACKAGE / "csr.py", PACKAGE / "vstc.py",
                                                                   Path(_core.__file__)]


class Store:
    """Finished points of one experiment in ``DIR/NAME.points.jsonl`` (append-only, one JSON
    object per line: key, params, and result or error). Only the driver of a run writes it. A line
    that does not parse (an interrupted write) is ignored and its point runs again, as does a
    point whose lines are all errors."""

    def __init__(self, directory: Path, experiment: "Experiment"):
        self.directory = Path(directory)
        self.experiment = experiment
        self.path = self.directory / f"{experiment.name}.points.jsonl"
        self.version = experiment.version()
        self._results: dict[str, dict] = {}
        self._errors: dict[str, str] = {}
        if self.path.exists():
            # a damaged line (not UTF-8, not JSON) is skipped like an unfinished one
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                    if "error" in entry:
                        self._errors[entry["key"]] = str(entry["error"])
                    else:
                        self._results[entry["key"]] = entry["result"]
                        self._errors.pop(entry["key"], None)
                except (ValueError, KeyError, TypeError):
                    continue

    def key(self, params: dict) -> str:
        text = json.dumps({"experiment": self.experiment.name, "version": self.version, "params": params}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def done(self, params: dict) -> bool:
        return self.key(params) in self._results

    def add(self, params: dict, result: dict) -> None:
        key = self.key(params)
        self._append({"key": key, "version": self.version, "params": params, "result": result})
        self._results[key] = result
        self._errors.pop(key, None)

    def fail(self, params: dict, error: str) -> None:
        """Record that the point failed, with its error; it is not done, and a re-run tries it again."""
        key = self.key(params)
        self._append({"key": key, "version": self.version, "params": params, "error": error})
        self._errors[key] = error

    def error(self, params: dict) -> str | None:
        """The error of the point's last failed try, unless it has succeeded since."""
        return self._errors.get(self.key(params))

    def _append(self, entry: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def result(self, params: dict) -> dict:
        return self._results[self.key(params)]
