"""Rewrites every generated program in python/otc_emu/programs/ from its script here (one command):

    python3 python/otc_emu/programs/generators/regenerate.py

tests/python/test_kernels.py checks that the committed programs are the scripts' output."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATORS = ("hmma_gemm", "owmma_gemm", "spgemm", "spgemm_seq", "spgemm_wide", "im2col", "conv_sparse_implicit", "conv_sparse_wide", "csr_spgemm",
              "vstc_gemm")  # spgemm_seq reads spgemm.sass

if __name__ == "__main__":
    for name in GENERATORS:
        subprocess.run([sys.executable, str(HERE / f"{name}.py"), str(HERE.parent / f"{name}.sass")], check=True)
        print(f"wrote {HERE.parent / f'{name}.sass'}")
    for depth in (4, 5, 6):  # spgemm_wide's deeper pipelines (depth 3 is spgemm_wide.sass, above)
        target = HERE.parent / f"spgemm_wide_d{depth}.sass"
        subprocess.run([sys.executable, str(HERE / "spgemm_wide.py"), "--depth", str(depth), str(target)], check=True)
        print(f"wrote {target}")
    for flag, stem, depths in (("--tall", "spgemm_tall", (3, 4)), ("--broad", "spgemm_broad", (3, 4, 5, 6)),
                               ("--narrow", "spgemm_wide_narrow", (3, 4, 5, 6))):
        for depth in depths:  # the 128x32 and 32x128 warp tiles (kernels.TALL_DEPTHS, BROAD_DEPTHS), the narrow 64x64 one
            target = HERE.parent / (f"{stem}.sass" if depth == 3 else f"{stem}_d{depth}.sass")
            subprocess.run([sys.executable, str(HERE / "spgemm_wide.py"), flag, "--depth", str(depth), str(target)], check=True)
            print(f"wrote {target}")
    for units in (2, 1):  # conv_sparse_wide with 2 and 1 tiles per warp (4 is conv_sparse_wide.sass, above)
        target = HERE.parent / f"conv_sparse_wide_u{units}.sass"
        subprocess.run([sys.executable, str(HERE / "conv_sparse_wide.py"), "--units", str(units), str(target)], check=True)
        print(f"wrote {target}")
    for variant in ("sp24", "hss4", "hss8"):  # one script, three programs
        target = HERE.parent / f"{variant}_gemm.sass"
        subprocess.run([sys.executable, str(HERE / "structured_gemm.py"), variant, str(target)], check=True)
        print(f"wrote {target}")
