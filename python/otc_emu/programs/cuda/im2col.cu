// im2col.cu: the three explicit im2col kernels of the paper's Table III (dense, CSR-encoded,
// bitmap with row offsets), compiled by the real nvcc; programs/im2col.sass is generated from its listing.
//
// Regenerate (CUDA 11.8; CI never needs nvcc, the listing is committed), from this folder:
//   nvcc -arch=sm_70 -cubin -O3 -o /tmp/im2col.cubin im2col.cu
//   (cuobjdump -sass /tmp/im2col.cubin; cuobjdump -res-usage /tmp/im2col.cubin) > im2col.listing.txt
//   python3 ../generators/im2col.py     (the listing as own-dialect source with declared parameters)
//
// Every kernel writes the same (C*R*S) x (P*Q) fp16 lowered matrix as otc_emu.sparse.im2col_dense:
// row (c*R + i)*S + j, column p*Q + q holds x[c, p*stride + i - pad, q*stride + j - pad] (zero
// outside the map). One warp per lowered row and block of ROWS_PER_WARP output rows p (so the
// index divisions are paid once per 8 x Q elements): lane l produces q = q0 + l for
// q0 = 0, 32, ... < Q of each p. Launch: block (128, 1, 1) (4 warps),
// grid ceil(C*R*S*ceil(P / 8) / 4).
// Parameters (constant bank 0 from 0x160, natural alignment): the kernel's pointers first, then
// struct Geometry by value. No __restrict__: with it nvcc emits LDG.E.U16.CONSTANT.SYS, a modifier
// order otc-asm does not accept yet (it expects the cache op before the width).

#include <cuda_fp16.h>

struct Geometry {
    int C, H, W, R, S, stride, pad, P, Q;
};

#define ROWS_PER_WARP 8

// Which row of the lowered matrix and which output rows [p0, p1) this warp makes, or false past
// the end.
__device__ __forceinline__ bool warp_task(const Geometry &g, int &c, int &i, int &j, int &p0, int &p1, int &lrow) {
    int w = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int blocks = (g.P + ROWS_PER_WARP - 1) / ROWS_PER_WARP;
    if (w >= g.C * g.R * g.S * blocks) return false;
    p0 = (w % blocks) * ROWS_PER_WARP;
    p1 = min(p0 + ROWS_PER_WARP, g.P);
    lrow = w / blocks;  // (c*R + i)*S + j
    j = lrow % g.S;
    i = (lrow / g.S) % g.R;
    c = lrow / (g.S * g.R);
    return true;
}

// Dense: x is the (C, H, W) fp16 map; one load per lowered element.
extern "C" __global__ void im2col_dense(const __half *x, __half *out, Geometry g) {
    int c, i, j, p0, p1, lrow;
    if (!warp_task(g, c, i, j, p0, p1, lrow)) return;
    int lane = threadIdx.x & 31;
    for (int p = p0; p < p1; p++) {
        int y = p * g.stride + i - g.pad;
        bool row_ok = y >= 0 && y < g.H;
        const __half *src = x + ((long)c * g.H + y) * g.W;
        __half *dst = out + (long)lrow * g.P * g.Q + (long)p * g.Q;
        for (int q = lane; q < g.Q; q += 32) {
            int xcol = q * g.stride + j - g.pad;
            __half v = __float2half(0.0f);
            if (row_ok && xcol >= 0 && xcol < g.W) v = src[xcol];
            dst[q] = v;
        }
    }
}

// CSR: every (c, y) row of the map is a CSR row (indptr: C*H + 1 ints; indices: column of each
// non-zero, ascending per row; values). Each lowered element binary-searches its row's column
// indices: two data-dependent reads (indptr, then the indices of the search) before the value.
extern "C" __global__ void im2col_csr(const int *indptr, const int *indices,
                                      const __half *values, __half *out, Geometry g) {
    int c, i, j, p0, p1, lrow;
    if (!warp_task(g, c, i, j, p0, p1, lrow)) return;
    int lane = threadIdx.x & 31;
    for (int p = p0; p < p1; p++) {
        int y = p * g.stride + i - g.pad;
        bool row_ok = y >= 0 && y < g.H;
        __half *dst = out + (long)lrow * g.P * g.Q + (long)p * g.Q;
        for (int q = lane; q < g.Q; q += 32) {
            int xcol = q * g.stride + j - g.pad;
            __half v = __float2half(0.0f);
            if (row_ok && xcol >= 0 && xcol < g.W) {
                int lo = indptr[c * g.H + y], hi = indptr[c * g.H + y + 1];
                while (lo < hi) {  // first index >= xcol
                    int mid = (lo + hi) >> 1;
                    if (indices[mid] < xcol) lo = mid + 1; else hi = mid;
                }
                if (lo < indptr[c * g.H + y + 1] && indices[lo] == xcol) v = values[lo];
            }
            dst[q] = v;
        }
    }
}

// Bitmap with row offsets (paper Section IV-B, Fig. 11), on otc_emu.sparse.encode_feature_map's
// format: bits[row * nwords + w] bit b = column 32 w + b of padded row `row` (per stride phase),
// offsets[row * nwords + w] = index in values of the first non-zero at or after bit 32 w.
// S1: the window's two bitmap words and the first word's row offset (the same address in every
// lane: one broadcast each); S2: shift the window out of the word pair, mask to valid outputs;
// S3: POPC of the bits shifted out + offset = the window's first value; S4: the lane's value is
// at that start + POPC of the window bits below the lane, if the lane's bit is set.
extern "C" __global__ void im2col_bitmap(const unsigned *bits, const int *offsets,
                                         const __half *values, __half *out, Geometry g,
                                         int nwords) {
    int c, i, j, p0, p1, lrow;
    if (!warp_task(g, c, i, j, p0, p1, lrow)) return;
    int lane = threadIdx.x & 31;
    int hp = g.H + 2 * g.pad;
    int phase = j % g.stride, shift = j / g.stride;
    for (int p = p0; p < p1; p++) {
        int row = (c * g.stride + phase) * hp + p * g.stride + i;
        const unsigned *brow = bits + (long)row * nwords;
        const int *orow = offsets + (long)row * nwords;
        __half *dst = out + (long)lrow * g.P * g.Q + (long)p * g.Q;
        for (int q0 = 0; q0 < g.Q; q0 += 32) {
            int b = q0 + shift;
            unsigned w0 = brow[b >> 5], w1 = brow[(b >> 5) + 1];                 // S1
            int off = orow[b >> 5];
            unsigned window = __funnelshift_r(w0, w1, b & 31);                  // S2
            int valid = g.Q - q0;
            if (valid < 32) window &= (1u << valid) - 1u;
            int start = off + __popc(w0 & ((1u << (b & 31)) - 1u));            // S3
            __half v = __float2half(0.0f);
            if ((window >> lane) & 1u) v = values[start + __popc(window & ((1u << lane) - 1u))];  // S4
            if (q0 + lane < g.Q) dst[q0 + lane] = v;
        }
    }
}
