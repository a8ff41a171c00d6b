//! `otc-sim`: the functional core of otc-emu, an exact emulator of a V100 (sm_70) streaming
//! multiprocessor that runs real Volta SASS (as `cuobjdump -sass` prints it and `otc-asm`
//! assembles it), tensor cores included.
//!
//! # Public API
//!
//! * [`Device`] — `Device::new(DeviceConfig)`; global memory with [`Device::alloc`] /
//!   [`Device::free`] / [`Device::write`] / [`Device::read`] (64-bit addresses, never 0, unmapped
//!   guard gaps between allocations), user constant banks ([`Device::write_constant`]), and
//!   [`Device::launch`]`(kernel, grid, block, params, dynamic_shared) -> LaunchStats`;
//!   [`Device::launch_timed`] also returns the cycle model's `otc_timing::Stats`.
//! * [`DeviceConfig`] — `Default` is a V100: 80 SMs, 48 KiB shared memory per CTA
//!   (96 KiB with opt-in), V100 tensor arithmetic ([`TensorArith::V100`], or `Ieee`), watchdogs
//!   on by default: `max_instructions` (per launch), `max_cycles` (per CTA) and `max_seconds`
//!   (wall clock per launch; [`watchdog`]), host `threads`, per-thread
//!   local memory and stack sizes, and `timing`: the cycle model (`otc-timing`) run beside
//!   every launch (`Some(TimingConfig::v100())` by default, `None` = off; it never changes a
//!   result). How the warps' traces are recorded: `timing.rs`.
//! * [`KernelImage`] — name, decoded [`otc_isa::Instruction`]s (pc = byte offset = index * 16;
//!   branch targets are byte offsets), registers per thread, static shared / local / parameter
//!   sizes where known.
//! * [`LaunchStats`] — warp- and thread-instruction counts, per opcode text and per pc, and
//!   tensor-core instruction counts (`ohmma_executed`, `ohmma_skipped`, `bohmma_executed`,
//!   `hmma_executed`).
//! * [`SimError`] — `Launch` (bad launch parameters, checked before anything runs), `Fault`
//!   ([`GuestFault`]: kernel, pc, CTA, warp, lanes, instruction text, [`FaultKind`], message,
//!   address), `Memory` (host-side memory errors), `Cancelled` (the device's [`CancelToken`],
//!   e.g. Ctrl-C, stopped the launch; [`Device::cancel_token`]). Nothing panics on bad input: every problem of
//!   the guest program is a `GuestFault`, and device memory stays readable afterwards.
//! * [`WarpHarness`] — one warp on a fresh SM for instruction-level tests.
//!
//! # Execution model
//!
//! * Grids of up to 3-D CTAs, CTAs of up to 1024 threads in warps of 32; registers R0..R254 and
//!   RZ, predicates P0..P6 and PT, convergence barriers B0..B15, special registers, constant bank
//!   0 laid out as on sm_70 (blockDim at 0x0, gridDim at 0xc, stack pointer at 0x28, parameters
//!   from 0x160), shared memory per CTA, local memory per thread, global memory.
//! * SIMT divergence and reconvergence with Volta's convergence barriers: see [`simt`].
//! * CTA scheduling, BAR.SYNC: see `cta.rs`. Determinism and parallelism (the CTA-order
//!   rule for memory and atomics): see [`device`].
//! * Instruction semantics: `exec/*.rs`; exact floating point in [`fp`]. Instructions are
//!   pre-decoded once per launch (`decode.rs`).
//!
//! # Semantic decisions (where hardware documentation is silent)
//!
//! * fp32 arithmetic rounds exactly in every mode (`fp`); NaN results are `0x7fffffff` (fp16:
//!   `0x7fff`, fp64: `0xfff8000000000000`). `.FTZ` flushes subnormal inputs and (after
//!   rounding) results; `.SAT` clamps to [0, 1] with NaN to +0; FMNMX/HMNMX2: a NaN operand
//!   yields the other, -0 < +0; F2I saturates and maps NaN to 0.
//! * MUFU is evaluated in fp64 and rounded to nearest fp32, so RCP, RSQ and SQRT are correctly
//!   rounded and EX2/LG2/SIN/COS are within an ulp; subnormal inputs and results are flushed
//!   (as the SFU does); SIN/COS take revolutions (nvcc pre-multiplies by 1/2π); RCP64H/RSQ64H
//!   give the high word of the fp64 result for an operand whose low word is taken as 0.
//! * An `.F32` half2 operand (`HADD2 R0, R2.F32, -RZ.H0_H0`, nvcc's `__float2half_rz`) is
//!   converted to fp16 towards zero.
//! * FCHK is true when the operands or the quotient leave the range in which nvcc's reciprocal
//!   fast path is exact (zero/subnormal/Inf/NaN divisor, Inf/NaN/subnormal dividend, exponent
//!   ranges); the slow path it selects is exact anyway, so only statistics depend on it.
//! * `DSETP.MIN/MAX`: p = `a` is what fmin/fmax return, q = both operands are NaN (that is how
//!   nvcc's fmin/fmax code uses q).
//! * `SR_CLOCKLO` (and `CS2R SR_CLOCKLO`) read the number of warp-instructions the CTA has
//!   issued so far: deterministic and monotonic. `SR_SMID` is the linear CTA index modulo the
//!   number of SMs.
//! * CALL does not push anything: nvcc passes the return address in a register and returns with
//!   `RET.REL.NODEC Rx` (`calls.sass`).
//!
//! # Performance design
//!
//! Registers are lane-major `[u32; 32]` per register and warp, predicates and active masks are
//! `u32` lane masks, instructions are pre-decoded once per launch into an enum with resolved
//! operands (constant-bank operands become immediates), full-warp writes skip masking, and the
//! statistics are one counter triple per instruction. `examples/throughput.rs` measures the
//! single-thread rate (about 25-30 million warp-instructions per second for ALU loops on the
//! development machine).
//!
//! # Outer-product tensor core (`isa/otc.toml`)
//!
//! `HMMA.OHMMA.8161` (dense, fp32 and fp16 accumulators), `HMMA.BOHMMA.32321`, sparse-mode
//! `HMMA.OHMMA.8161.F32.F32.SP.Mm.Nn` and `ACCB.CLEAR/BMAP/MOV/STS/LDS` are executed as
//! `isa/otc.toml` defines them (`exec/tensor.rs`). Decisions:
//!
//! * OHMMA: each lane computes its four accumulator elements (row, col) from the A element `row`
//!   and the B element `col` of its *own* A and B pairs (the layout replicates A in 16 lanes and B
//!   in 8; each lane holds exactly the factors it needs), one product per adder step. The sparse
//!   form computes the same products from the same lanes, reading all 32 lanes (active or not),
//!   and lands product (k, j) of the condensed tile at buffer (row_of(k), col_of(j)).
//! * The accumulation buffer (32x32 fp32 and the bitmaps of the last ACCB.BMAP) belongs to the
//!   warp; it does not exist until the first ACCB.CLEAR or ACCB.LDS (reading or accumulating
//!   into it before is an `AccumulatorState` fault). ACCB.CLEAR and ACCB.LDS forget the bitmaps;
//!   a sparse OHMMA needs an ACCB.BMAP after them (else `AccumulatorState`). The warp harness
//!   keeps the buffer across runs, like the registers.
//! * Warp-collective instructions (sparse OHMMA, ACCB.CLEAR/BMAP/STS/LDS): the guard must hold
//!   in every active lane (the instruction executes) or in none (it does nothing); a mixed guard
//!   is a `NonUniformOperand` fault. ACCB.BMAP values and ACCB.STS/LDS addresses must be the
//!   same in every active lane (`NonUniformOperand`, naming the lanes that differ from the lowest
//!   active lane). ACCB.STS/LDS move 4096 bytes at a 4-byte-aligned address that must lie inside
//!   the CTA's shared memory (`Misaligned` / `OutOfBounds` shared faults). ACCB.MOV writes the
//!   executing lanes only.
//! * Statistics: [`LaunchStats`] counts `ohmma_executed` / `ohmma_skipped` (guard false in every
//!   lane), `bohmma_executed` and `hmma_executed`.
//!
//! # Not implemented (raise an `UnsupportedInstruction` guest fault when executed)
//!
//! `BAR.RED`, and any instruction of the ISA table this crate does not know.

#[cfg(test)]
mod class_coverage;
mod config;
mod cosim;
mod cta;
mod decode;
pub mod device;
mod exec;
pub mod fault;
pub mod fp;
mod harness;
pub mod memory;
mod op;
pub mod simt;
mod state;
mod stats;
mod timing;
pub mod watchdog;

pub use config::{
    DeviceConfig, GlobalsLink, KernelImage, Setting, SettingKind, SettingValue, CONST_BANK_BYTES, DEFAULT_MAX_CYCLES,
    DEFAULT_MAX_INSTRUCTIONS, DEFAULT_MAX_SECONDS, MAX_PARAM_BYTES, MAX_THREADS_PER_CTA, PARAM_BASE, SETTINGS,
    V100_MAX_SHARED_PER_CTA,
};
pub use decode::unsupported_instructions;
pub use device::Device;
pub use fault::{FaultKind, GuestFault, MemorySpace, SimError};
pub use harness::{WarpHarness, WarpTiming};
pub use otc_numerics::TensorArith;
pub use stats::{LaunchStats, OpcodeCount};
pub use watchdog::CancelToken;
