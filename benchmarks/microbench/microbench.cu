// V100 microbenchmarks after Jia et al., "Dissecting the NVIDIA Volta GPU Architecture via
// Microbenchmarking" (arXiv 1804.06826, 2018) and Raihan et al., ISPASS 2019, run on the emulator
// by `otc-emu experiment microbench` (python/otc_emu/experiments/microbench.py). Rebuilt into
// microbench.sass by ./build.sh (nvcc 11.8, -arch=sm_70 -O3). Every latency kernel times a chain
// of CHAIN dependent instructions between two clock() reads (CS2R SR_CLOCKLO), as the hardware
// measurements do; the emulator reads the two reads' issue cycles from the cycle model.
#include <cuda_fp16.h>
#include <mma.h>

#define CHAIN 128

// ------------------------------------------------------------------ dependent-issue latency
// One thread. The operands are kernel parameters (constant bank 0: nothing folds, and no load is
// pending when the first clock is read, which would add its latency to the chain); out[0] =
// stop - start, out[1] the result.
#define LATENCY_KERNEL(NAME, T, STEP)                                                  \
    extern "C" __global__ void NAME(unsigned *out, T *res, T x, T a, T b) {            \
        (void)a; (void)b;                                                              \
        unsigned start = clock();                                                      \
        _Pragma("unroll") for (int i = 0; i < CHAIN; i++) { STEP; }                    \
        unsigned stop = clock();                                                       \
        out[0] = stop - start;                                                         \
        res[0] = x;                                                                    \
    }

LATENCY_KERNEL(lat_ffma, float, x = fmaf(x, a, b))
LATENCY_KERNEL(lat_fadd, float, asm volatile("add.f32 %0, %0, %1;" : "+f"(x) : "f"(a)))
LATENCY_KERNEL(lat_fmul, float, asm volatile("mul.f32 %0, %0, %1;" : "+f"(x) : "f"(a)))
// (No IADD3 chain: ptxas folds any chain of additions of a loop-invariant value into a multiply;
// LOP3 stands for the integer pipe.)
LATENCY_KERNEL(lat_imad, unsigned, asm volatile("mad.lo.u32 %0, %0, %1, %2;" : "+r"(x) : "r"(a), "r"(b)))
LATENCY_KERNEL(lat_lop3, unsigned, asm volatile("lop3.b32 %0, %0, %1, %2, 0x6a;" : "+r"(x) : "r"(a), "r"(b)))
// A f16x2 parameter is read as two LDC.U16 halves, a form the assembler does not take yet: the
// value comes from the thread index instead (S2R, ready long before the chain's end).
extern "C" __global__ void lat_hfma2(unsigned *out, unsigned *res) {
    unsigned x = 0x3c003c00u | threadIdx.x, a = x ^ 1u;
    unsigned start = clock();
#pragma unroll
    for (int i = 0; i < CHAIN; i++) asm volatile("fma.rn.f16x2 %0, %0, %1, %0;" : "+r"(x) : "r"(a));
    unsigned stop = clock();
    out[0] = stop - start;
    res[0] = x;
}
LATENCY_KERNEL(lat_dadd, double, asm volatile("add.f64 %0, %0, %1;" : "+d"(x) : "d"(a)))
LATENCY_KERNEL(lat_dfma, double, x = fma(x, a, b))
LATENCY_KERNEL(lat_mufu_ex2, float, asm volatile("ex2.approx.ftz.f32 %0, %0;" : "+f"(x)))
LATENCY_KERNEL(lat_mufu_rsq, float, asm volatile("rsqrt.approx.ftz.f32 %0, %0;" : "+f"(x)))
LATENCY_KERNEL(lat_mufu_lg2, float, asm volatile("lg2.approx.ftz.f32 %0, %0;" : "+f"(x)))
// Conversions: a round trip per step (two instructions of the conversion unit).
LATENCY_KERNEL(lat_f2i_i2f, float, x = (float)(int)x)
LATENCY_KERNEL(lat_f2f_f64, float,
               double d; asm volatile("cvt.f64.f32 %0, %1;" : "=d"(d) : "f"(x));
               asm volatile("cvt.rn.f32.f64 %0, %1;" : "=f"(x) : "d"(d)))

// ------------------------------------------------------------------ shared memory
// Pointer chasing in shared memory: every word holds its own byte offset, so each executed lane
// reads the same word CHAIN times, each read's address being the previous read's value. Lane l
// starts at word (l % g) + (l / g) * 32 with g = 1 << lg: groups of 32 / g lanes read different
// words of one bank (a (32 / g)-way bank conflict per load).
extern "C" __global__ void smem_chase(unsigned *out, unsigned lg) {
    __shared__ unsigned s[1024];
    for (unsigned i = threadIdx.x; i < 1024; i += blockDim.x) s[i] = 4 * i;
    __syncthreads();
    unsigned lane = threadIdx.x % 32;
    unsigned p = 4 * ((lane & ((1u << lg) - 1)) + (lane >> lg) * 32);
    unsigned begin = clock();
#pragma unroll
    for (int i = 0; i < CHAIN; i++) p = *(volatile unsigned *)((char *)s + p);
    unsigned end = clock();
    out[threadIdx.x] = p;
    if (threadIdx.x == 0) out[32] = end - begin;
}

// ------------------------------------------------------------------ global memory staircase
// One thread chases a ring of pointers (the host links each element to the next, `stride` bytes
// on, around a footprint). A first pass of `warm` loads walks the whole ring (filling the caches
// as far as they hold it); the next `steps` loads are timed.
extern "C" __global__ void gmem_chase(unsigned *out, void **ring, unsigned warm, unsigned steps) {
    void **p = ring;
    for (unsigned i = 0; i < warm; i++) asm volatile("ld.global.u64 %0, [%0];" : "+l"(p));
    unsigned begin = clock();
    for (unsigned i = 0; i < steps; i++) asm volatile("ld.global.u64 %0, [%0];" : "+l"(p));
    unsigned end = clock();
    out[0] = end - begin;
    out[1] = (unsigned)(size_t)p;
}

// ------------------------------------------------------------------ bandwidth
// CTA b reads `window` float4s starting at b * `offset` (wrapping at `n`), coalesced, `reps`
// times. L2: every CTA reads the whole buffer (a footprint beyond an L1, within the L2); DRAM:
// each CTA its own slice of a buffer beyond the L2.
extern "C" __global__ void bw_read(float *out, const float4 *a, unsigned n, unsigned window, unsigned offset,
                                   unsigned reps) {
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    unsigned base = blockIdx.x * offset;
    for (unsigned r = 0; r < reps; r++) {
        for (unsigned i = threadIdx.x; i < window; i += blockDim.x) {
            float4 v = a[(base + i) % n];
            acc.x += v.x; acc.y += v.y; acc.z += v.z; acc.w += v.w;
        }
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = acc.x + acc.y + acc.z + acc.w;
}

// ------------------------------------------------------------------ tensor cores (wmma)
using namespace nvcuda;
// A chain of dependent wmma 16x16x16 (f16 in, f32 accumulate), one warp: latency per mma_sync.
// The operands are filled from a parameter (no load pending at the first clock read).
extern "C" __global__ void wmma_latency(unsigned *out, float *c, float v) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
    wmma::fill_fragment(fa, __float2half(v));
    wmma::fill_fragment(fb, __float2half(v));
    wmma::fill_fragment(fc, v);
    unsigned begin = clock();
#pragma unroll
    for (int i = 0; i < 16; i++) wmma::mma_sync(fc, fa, fb, fc);
    unsigned end = clock();
    wmma::store_matrix_sync(c, fc, 16, wmma::mem_row_major);
    if (threadIdx.x == 0) out[0] = end - begin;
}

// Throughput: every warp runs `iters` x 4 independent accumulator chains.
extern "C" __global__ void wmma_throughput(const half *a, const half *b, float *c, unsigned iters) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> f0, f1, f2, f3;
    wmma::load_matrix_sync(fa, a, 16);
    wmma::load_matrix_sync(fb, b, 16);
    wmma::fill_fragment(f0, 0.0f);
    wmma::fill_fragment(f1, 0.0f);
    wmma::fill_fragment(f2, 0.0f);
    wmma::fill_fragment(f3, 0.0f);
    for (unsigned i = 0; i < iters; i++) {
        wmma::mma_sync(f0, fa, fb, f0);
        wmma::mma_sync(f1, fa, fb, f1);
        wmma::mma_sync(f2, fa, fb, f2);
        wmma::mma_sync(f3, fa, fb, f3);
    }
    for (int i = 0; i < f0.num_elements; i++) f0.x[i] += f1.x[i] + f2.x[i] + f3.x[i];
    unsigned w = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
    wmma::store_matrix_sync(c + 256 * w, f0, 16, wmma::mem_row_major);
}
