//! [`WarpHarness`]: one warp on a fresh SM, for instruction-level tests.

use otc_isa::Instruction;
use otc_numerics::TensorArith;
use otc_timing::{EventTemplate, IssueRecord, Simulator, TimingConfig};

use crate::config::{KernelImage, CONST_BANK_BYTES};
use crate::cta::run_warps;
use crate::decode::{decode_all, DecodeCtx};
use crate::device::{guest_fault, CONST_BANKS};
use crate::exec::{Env, Exec};
use crate::fault::SimError;
use crate::memory::GlobalMemory;
use crate::state::Warp;
use crate::stats::{Counters, LaunchStats};
use crate::timing::Tracer;
use crate::watchdog::{CancelToken, Watch};

/// Registers of the harness warp (R0..R254 all usable).
const REGS: u32 = 255;

/// What the cycle model says about one timed [`WarpHarness::run_timed`]: the warp alone in a
/// CTA of 32 threads on SM 0 of the configured GPU (the other SMs idle).
#[derive(Clone, Debug)]
pub struct WarpTiming {
    /// The model's statistics (`cycles`, `tensor.busy_cycles`, `stall.<reason>`, ...).
    pub stats: otc_timing::Stats,
    /// Every issued warp-instruction in issue order, with its issue cycle and the cycle from
    /// which its results can be used.
    pub issues: Vec<IssueRecord>,
}

/// One warp of 32 lanes on a fresh SM, with a small global memory, shared memory, constant
/// banks and local memory. Registers, predicates and memories persist across [`run`]s; each run
/// starts at the first instruction with the launched lanes (all 32 unless
/// [`set_lanes`](Self::set_lanes)) active and runs until every lane exits or runs past the last
/// instruction.
///
/// [`run`]: Self::run
pub struct WarpHarness {
    warp: Warp,
    memory: GlobalMemory,
    shared: Vec<u8>,
    banks: Vec<Vec<u8>>,
    lanes: u32,
    arith: TensorArith,
    local_bytes: u32,
    max_instructions: Option<u64>,
    counters: Counters,
    cancel: CancelToken,
    timing: Option<TimingConfig>,
}

impl Default for WarpHarness {
    fn default() -> Self {
        Self::new()
    }
}

impl WarpHarness {
    /// A harness with 48 KiB of shared memory, 1 KiB of local memory per lane, constant bank 0
    /// laid out for a (32, 1, 1) block in a (1, 1, 1) grid, V100 tensor arithmetic.
    pub fn new() -> Self {
        let tid = {
            let mut t = [[0u32; 32]; 3];
            for (l, x) in t[0].iter_mut().enumerate() {
                *x = l as u32;
            }
            t
        };
        let mut banks = vec![Vec::new(); CONST_BANKS];
        let mut b0 = vec![0u8; CONST_BANK_BYTES as usize];
        let local = 1024u32;
        for (off, v) in [(0x0, 32u32), (0x4, 1), (0x8, 1), (0xc, 1), (0x10, 1), (0x14, 1), (0x28, local), (0x10c, 80)] {
            b0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        banks[0] = b0;
        WarpHarness {
            warp: Warp::new(REGS as usize + 16, 0, u32::MAX, tid),
            memory: GlobalMemory::new(),
            shared: vec![0; 48 * 1024],
            banks,
            lanes: u32::MAX,
            cancel: CancelToken::new(),
            arith: TensorArith::V100,
            local_bytes: local,
            max_instructions: Some(10_000_000),
            counters: Counters::default(),
            timing: None,
        }
    }

    /// Time every later run with the cycle model of `config` (`None`, the default: untimed).
    pub fn set_timing(&mut self, config: Option<TimingConfig>) {
        self.timing = config;
    }

    /// Tensor-core arithmetic for HMMA.
    pub fn set_tensor_arith(&mut self, arith: TensorArith) {
        self.arith = arith;
    }

    /// Lanes that exist in the next runs (the others behave as exited threads).
    pub fn set_lanes(&mut self, mask: u32) {
        self.lanes = mask;
    }

    /// The flag that stops a running [`WarpHarness::run`] from another thread (the run then
    /// fails with [`SimError::Cancelled`]); see [`crate::watchdog`].
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Watchdog for each run (default 10 million warp-instructions).
    pub fn set_max_instructions(&mut self, n: Option<u64>) {
        self.max_instructions = n;
    }

    pub fn write_reg(&mut self, index: u8, values: [u32; 32]) {
        if (index as u32) < REGS {
            self.warp.regs[index as usize] = values;
        }
    }

    pub fn read_reg(&self, index: u8) -> [u32; 32] {
        if (index as u32) < REGS {
            self.warp.regs[index as usize]
        } else {
            [0; 32]
        }
    }

    /// Set predicate P`index` (0..6) to a lane mask.
    pub fn write_pred(&mut self, index: u8, mask: u32) {
        if index < 7 {
            self.warp.preds[index as usize] = mask;
        }
    }

    /// Predicate P`index` as a lane mask (7 = PT).
    pub fn read_pred(&self, index: u8) -> u32 {
        if index <= 7 {
            self.warp.preds[index as usize]
        } else {
            0
        }
    }

    /// Allocate global memory (see [`crate::Device::alloc`]).
    pub fn alloc(&mut self, bytes: u64, align: u64) -> Result<u64, SimError> {
        self.memory.alloc(bytes, align).map_err(SimError::Memory)
    }

    pub fn write_global(&mut self, addr: u64, data: &[u8]) -> Result<(), SimError> {
        self.memory.write(addr, data).map_err(SimError::Memory)
    }

    pub fn read_global(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, SimError> {
        self.memory.read(addr, len).map_err(SimError::Memory)
    }

    /// Write the shared memory (48 KiB).
    pub fn write_shared(&mut self, offset: usize, data: &[u8]) -> Result<(), SimError> {
        let end = offset.checked_add(data.len()).filter(|&e| e <= self.shared.len());
        match end {
            Some(e) => {
                self.shared[offset..e].copy_from_slice(data);
                Ok(())
            }
            None => {
                Err(SimError::Memory(format!("{} bytes at shared offset {offset:#x} are out of range", data.len())))
            }
        }
    }

    /// Read the shared memory.
    pub fn read_shared(&self, offset: usize, len: usize) -> Result<Vec<u8>, SimError> {
        match offset.checked_add(len).filter(|&e| e <= self.shared.len()) {
            Some(e) => Ok(self.shared[offset..e].to_vec()),
            None => Err(SimError::Memory(format!("{len} bytes at shared offset {offset:#x} are out of range"))),
        }
    }

    /// Write a constant bank (0..17, 64 KiB each; bank 0 holds the harness's launch header).
    pub fn write_constant(&mut self, bank: u8, offset: usize, data: &[u8]) -> Result<(), SimError> {
        let end = offset.checked_add(data.len()).filter(|&e| e <= CONST_BANK_BYTES as usize);
        let (Some(end), Some(b)) = (end, self.banks.get_mut(bank as usize)) else {
            return Err(SimError::Memory(format!(
                "constant bank {bank}: {} bytes at {offset:#x} are out of range",
                data.len()
            )));
        };
        if b.len() < end {
            b.resize(end, 0);
        }
        b[offset..end].copy_from_slice(data);
        Ok(())
    }

    /// Local memory of lane `lane` (the window is 1 KiB; the stack pointer `c[0x0][0x28]` is 1024).
    pub fn read_local(&self, lane: usize, offset: usize, len: usize) -> Vec<u8> {
        let base = lane * self.local_bytes as usize + offset;
        let mut v = vec![0u8; len];
        if let Some(s) = self.warp.local.get(base..base + len) {
            v.copy_from_slice(s);
        }
        v
    }

    /// Run `code` (pc 0 = the first instruction) until every lane has exited.
    pub fn run(&mut self, code: &[Instruction]) -> Result<LaunchStats, SimError> {
        Ok(self.run_timed(code)?.0)
    }

    /// [`run`](Self::run), and with [`set_timing`](Self::set_timing) on also the cycle model's
    /// view of the run ([`WarpTiming`]). The results are the same timed or not.
    pub fn run_timed(&mut self, code: &[Instruction]) -> Result<(LaunchStats, Option<WarpTiming>), SimError> {
        let cx = DecodeCtx { num_regs: REGS, banks: &self.banks, len: code.len(), end_exits: true };
        let ops = decode_all(code, &cx);
        self.counters = Counters::new(ops.len());
        self.warp.restart(self.lanes);
        let model_err = |e: otc_timing::TimingError| SimError::Launch(format!("harness: cycle model: {e}"));
        let sim = match &self.timing {
            None => None,
            Some(cfg) => {
                let mut sim = Simulator::new(cfg, 1).map_err(model_err)?;
                sim.record_issues();
                Some(sim)
            }
        };
        let templates: Vec<EventTemplate> =
            if sim.is_some() { code.iter().map(EventTemplate::new).collect() } else { Vec::new() };
        if let Some(sim) = &sim {
            sim.check_program(&templates).map_err(model_err)?;
            sim.check_fits(32, REGS, self.shared.len() as u32).map_err(model_err)?;
        }
        let preparer = sim.as_ref().map(|s| s.preparer(&templates));
        let env = Env {
            ctaid: [0; 3],
            ntid: [32, 1, 1],
            num_regs: REGS,
            shared_bytes: self.shared.len() as u32,
            local_bytes: self.local_bytes,
            smid: 0,
            nsm: 80,
            grid_id: 1,
            arith: self.arith,
        };
        let budget = self.max_instructions.unwrap_or(u64::MAX);
        let mut left = budget;
        let (fault, trace) = {
            let mut x = Exec {
                ops: &ops,
                env: &env,
                banks: &self.banks,
                global: &mut self.memory,
                shared: &mut self.shared,
                counters: &mut self.counters.per_inst,
                clock: 0,
                tracer: preparer.as_ref().map(|p| Tracer::new(&templates, p, 0, 1)),
            };
            let fault = run_warps(
                std::slice::from_mut(&mut self.warp),
                &mut x,
                &mut left,
                budget,
                &Watch::new(self.cancel.clone(), None),
            );
            let trace = x.tracer.take().map(|t| t.finish([0; 3], env.shared_bytes, REGS, 32));
            (fault, trace)
        };
        self.counters.ctas = 1;
        self.counters.warps = 1;
        self.counters.threads = self.lanes.count_ones() as u64;
        match fault {
            None => {
                let timing = match (sim, trace) {
                    (Some(mut sim), Some(trace)) => {
                        sim.push_prepared(trace).map_err(model_err)?;
                        let (stats, mut logs) = sim.finish_with_timeline().map_err(model_err)?;
                        Some(WarpTiming { stats, issues: logs.swap_remove(0) })
                    }
                    _ => None,
                };
                Ok((self.counters.to_stats(code), timing))
            }
            Some(f) if f.kind == crate::fault::FaultKind::Cancelled => {
                Err(SimError::Cancelled { kernel: "harness".into(), cta: [0; 3] })
            }
            Some(f) => {
                let k = KernelImage::new("harness", code.to_vec());
                Err(SimError::Fault(guest_fault(&k, [0; 3], f)))
            }
        }
    }
}
