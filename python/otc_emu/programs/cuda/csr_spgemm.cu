// csr_spgemm.cu: the cuSPARSE-like baseline of the paper's Fig. 21, C = A x B with A and B in CSR,
// row-wise (Gustavson) on the CUDA cores, compiled by the real nvcc; programs/csr_spgemm.sass is
// generated from its listing.
//
// Regenerate (CUDA 11.8; CI never needs nvcc, the listing is committed), from this folder:
//   nvcc -arch=sm_70 -cubin -O3 -o /tmp/csr_spgemm.cubin csr_spgemm.cu
//   (cuobjdump -sass /tmp/csr_spgemm.cubin; cuobjdump -res-usage /tmp/csr_spgemm.cubin) > csr_spgemm.listing.txt
//   python3 ../generators/csr_spgemm.py   (the listing as own-dialect source with declared parameters)
//
// Design (docs/csr.md): one warp per row i of A at a time (rows i = warp id, + all warps of the
// grid, ...). Each warp owns a dense fp32 row accumulator of n floats in dynamic shared memory
// (the sparse accumulator, "SPA", of Gilbert et al.; cuSPARSE's csrgemm keeps a per-row hash
// table in shared memory instead, which is the same cost per product for rows of this length).
//   1. numeric: the warp loads up to 32 non-zeros (k, a) of A's row and B's row pointers for those
//      k (one per lane), then for each of them in k order broadcasts it with SHFL and the lanes
//      walk B's row k (lane l: entries l, l + 32, ...), acc[j] = fma(a, b, acc[j]) in shared memory
//      (LDS, FFMA, STS). The column indices of one B row are distinct, so no two lanes of one step
//      touch the same acc[j]; __syncwarp orders the steps. Products are exact in fp32 (fp16 x fp16),
//      each C[i][j] is summed in ascending k, each step rounded to nearest.
//   2. gather: the same (k, j) walk again; a lane that finds acc[j] != 0 stores it to C[i][j] and
//      clears acc[j], so every touched position is written once (C starts zeroed, as cuSPARSE's
//      output is allocated) and the accumulator is clean for the warp's next row: the cost is
//      proportional to the products, never to n (cuSPARSE writes a CSR C; we write its non-zeros
//      into a dense C so that every GEMM mode returns the same thing).
// Parameters (constant bank 0 from 0x160): the six CSR arrays, C, m, n. Launch: block
// 32 * warps, dynamic shared memory warps * n * 4 bytes.

#include <cuda_fp16.h>

#define FULL 0xffffffffu

extern "C" __global__ void csr_spgemm(const int *a_ptr, const int *a_idx, const __half *a_val,
                                      const int *b_ptr, const int *b_idx, const __half *b_val,
                                      float *c, int m, int n) {
    extern __shared__ float spa[];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float *acc = spa + warp * n;
    for (int j = lane; j < n; j += 32) acc[j] = 0.0f;  // once per warp; the gather keeps it clean
    __syncwarp();
    for (int i = blockIdx.x * warps + warp; i < m; i += gridDim.x * warps) {
        int p0 = a_ptr[i], p1 = a_ptr[i + 1];
        for (int pass = 0; pass < 2; pass++) {  // 0: numeric (scatter), 1: gather to C
            for (int base = p0; base < p1; base += 32) {
                int p = base + lane, qs = 0, qe = 0;
                float av = 0.0f;
                if (p < p1) {
                    int k = a_idx[p];
                    av = __half2float(a_val[p]);
                    qs = b_ptr[k];
                    qe = b_ptr[k + 1];
                }
                int count = min(32, p1 - base);
                for (int t = 0; t < count; t++) {
                    float a = __shfl_sync(FULL, av, t);
                    int q0 = __shfl_sync(FULL, qs, t), q1 = __shfl_sync(FULL, qe, t);
                    for (int q = q0 + lane; q < q1; q += 32) {
                        int j = b_idx[q];
                        if (pass == 0) {
                            acc[j] = fmaf(a, __half2float(b_val[q]), acc[j]);
                        } else {
                            float v = acc[j];
                            if (v != 0.0f) {
                                c[(long)i * n + j] = v;
                                acc[j] = 0.0f;
                            }
                        }
                    }
                    __syncwarp();
                }
            }
        }
    }
}
