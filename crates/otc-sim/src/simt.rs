//! SIMT divergence and reconvergence: Volta's independent thread scheduling with convergence
//! barriers.
//!
//! # Model
//!
//! Every lane has its own program counter. At any moment one *group* of lanes runs: the lanes
//! that are ready and sit at the same pc (`Warp::pc`, `Warp::active`); the other ready lanes are
//! *parked* with their pc in `lane_pc`. Lanes may also wait at a convergence barrier (BSYNC),
//! at a WARPSYNC, or at a CTA barrier (BAR.SYNC), or have exited.
//!
//! * A branch whose guard holds in some lanes of the group only splits it: both sides become
//!   groups, each at its own pc.
//! * **Scheduling rule (min-pc):** the warp always runs the ready group with the lowest pc; the
//!   taken side of a divergent branch and the fall-through side are ordered by pc like any other
//!   groups. When the running group reaches the pc of a parked group (by falling through or by a
//!   branch) the two merge. Structured code therefore reconverges as early as possible, without
//!   waiting for a BSYNC, and the order of execution is a pure function of the program and the
//!   data.
//! * **Fairness:** a group that keeps taking backward branches while other groups are ready (a
//!   spin loop waiting for a lane of the same warp) yields after 64 such branches: it is parked
//!   and the next group in pc order (wrapping around) runs until it blocks; `YIELD` and
//!   `NANOSLEEP` yield at once. This is the forward-progress guarantee of Volta's independent
//!   thread scheduling, made deterministic.
//! * `BSSY Bx, target` sets barrier Bx to the lanes of the running group (the guard does not
//!   matter: the hardware records the active mask). `BSYNC Bx`: the running lanes that belong
//!   to Bx wait until every lane of Bx that has not exited waits there, then all of them (only
//!   the lanes that belong to Bx: lanes of an outer recursion level that wait at the same BSYNC
//!   stay waiting) continue together after the BSYNC. Lanes not in Bx pass a BSYNC without
//!   waiting. `BREAK Bx` removes the guarded lanes from Bx (which may complete a waiting BSYNC).
//!   `BMOV` reads (and with `.CLEAR` clears) or writes a barrier mask; a write takes the value of
//!   the lowest running lane whose guard holds.
//! * `WARPSYNC m`: each arriving lane waits until every non-exited lane of `m` waits at some
//!   WARPSYNC; then those lanes continue, each after its own WARPSYNC.
//! * `EXIT` ends the guarded lanes for good. Exited lanes count as arrived at every barrier.
//! * `BRA.CONV` is taken when the warp is converged (every non-exited lane runs in the group),
//!   `BRA.DIV` when it is not: nvcc uses `BRA.CONV` to skip the `WARPSYNC` of `__syncwarp()`.
//! * `CALL` is a branch (nvcc passes the return address in a register: `MOV R20, 0xc0;
//!   CALL.REL.NOINC target`), `RET Ra, t` and `BRX Ra, t` branch to the byte offset `Ra + t` of
//!   each lane: lanes with different targets diverge like a branch.
//!
//! A group that cannot run anymore (every remaining lane waits at BSYNC/WARPSYNC and no lane of
//! the warp can release them) is a `BarrierDeadlock` fault; waiting at BAR.SYNC is resolved by
//! the CTA (`cta.rs`).

use crate::state::{lanes, mask_of, Warp, FULL};

/// Backward branches a group may take while others are ready before it yields.
pub(crate) const FAIRNESS_BACKEDGES: u32 = 64;

impl Warp {
    /// Put lanes `m` (not running) in the ready set at `pc`.
    #[inline(always)]
    pub fn park(&mut self, m: u32, pc: u32) {
        if m == 0 {
            return;
        }
        self.set_lane_pc(m, pc);
        self.parked |= m;
        if pc < self.parked_min {
            self.parked_min = pc;
        }
    }

    /// `lane_pc[l] = pc` for the lanes of `m` (a vector select over the 32 lanes).
    #[inline(always)]
    fn set_lane_pc(&mut self, m: u32, pc: u32) {
        for (l, p) in self.lane_pc.iter_mut().enumerate() {
            *p = if m & (1 << l) != 0 { pc } else { *p };
        }
    }

    /// Smallest `lane_pc` of the lanes of `m` (`u32::MAX` if none).
    #[inline(always)]
    fn min_lane_pc(&self, m: u32) -> u32 {
        if m == 0 {
            return u32::MAX;
        }
        let mut v = [u32::MAX; 32];
        for (l, x) in v.iter_mut().enumerate() {
            *x = if m & (1 << l) != 0 { self.lane_pc[l] } else { u32::MAX };
        }
        // a halving tree (vector mins), not a serial chain
        let mut w = 16;
        while w > 0 {
            for i in 0..w {
                v[i] = v[i].min(v[i + w]);
            }
            w /= 2;
        }
        v[0]
    }

    /// Park lanes `m` at their own `lane_pc + 1` (lanes released from a wait).
    #[inline]
    pub fn park_after(&mut self, m: u32) {
        if m == 0 {
            return;
        }
        for (l, p) in self.lane_pc.iter_mut().enumerate() {
            *p += (m >> l) & 1;
        }
        self.parked_min = self.parked_min.min(self.min_lane_pc(m));
        self.parked |= m;
    }

    #[inline(always)]
    pub fn recompute_parked_min(&mut self) {
        self.parked_min = self.min_lane_pc(self.parked);
    }

    /// Lanes parked at `pc`.
    #[inline(always)]
    fn parked_at(&self, pc: u32) -> u32 {
        self.lanes_at(self.parked, pc)
    }

    /// After an instruction: merge with parked lanes at the new pc, or switch to a lower group.
    /// Called only when `pc >= parked_min`.
    #[inline(always)]
    pub fn reconcile(&mut self) {
        if self.active == 0 {
            return;
        }
        if self.pc == self.parked_min {
            let m = self.parked_at(self.pc);
            self.parked &= !m;
            self.active |= m;
            self.recompute_parked_min();
        } else if self.preempt && self.pc > self.parked_min {
            let (a, pc) = (self.active, self.pc);
            self.active = 0;
            self.park(a, pc);
            self.select();
        }
    }

    /// Start the ready group with the lowest pc. Returns false if no lane is ready.
    #[inline]
    pub fn select(&mut self) -> bool {
        if self.parked == 0 {
            self.active = 0;
            return false;
        }
        let pc = self.parked_min;
        let m = self.parked_at(pc);
        self.parked &= !m;
        self.active = m;
        self.pc = pc;
        self.backedges = 0;
        self.recompute_parked_min();
        true
    }

    /// The running group blocked or ended: pick the next one (min-pc preemption back on).
    #[inline]
    pub fn select_after_block(&mut self) -> bool {
        self.preempt = true;
        self.select()
    }

    /// Yield to the next ready group in pc order after the current one (wrapping around).
    pub fn yield_group(&mut self) {
        if self.parked == 0 || self.active == 0 {
            return;
        }
        let (a, pc) = (self.active, self.pc);
        // next group after pc (wrapping)
        let mut best: Option<u32> = None;
        for l in lanes(self.parked) {
            let p = self.lane_pc[l];
            if p > pc && best.is_none_or(|b| p < b) {
                best = Some(p);
            }
        }
        let target = best.unwrap_or(self.parked_min);
        self.active = 0;
        self.park(a, pc);
        let m = self.parked_at(target);
        self.parked &= !m;
        self.active = m;
        self.pc = target;
        self.backedges = 0;
        self.preempt = false;
        self.recompute_parked_min();
    }

    /// Branch: lanes `taken` (a subset of the running group) go to `target`, the others to the
    /// next instruction.
    #[inline(always)]
    pub fn branch(&mut self, taken: u32, target: u32) {
        let rest = self.active & !taken;
        if taken == 0 {
            self.pc += 1;
        } else if rest == 0 {
            if target <= self.pc && self.parked != 0 {
                self.backedges += 1;
                self.pc = target;
                if self.backedges > FAIRNESS_BACKEDGES {
                    self.yield_group();
                }
            } else {
                self.pc = target;
            }
        } else {
            let next = self.pc + 1;
            if target < next {
                self.park(rest, next);
                self.active = taken;
                self.pc = target;
            } else {
                self.park(taken, target);
                self.active = rest;
                self.pc = next;
            }
        }
    }

    /// Indirect branch: lane l of the running group goes to `targets[l]` (instruction indices).
    pub fn branch_indirect(&mut self, targets: &[u32; 32]) {
        let a = self.active;
        let mut best = u32::MAX;
        for l in lanes(a) {
            best = best.min(targets[l]);
        }
        let mut keep = 0u32;
        for l in lanes(a) {
            if targets[l] == best {
                keep |= 1 << l;
            }
        }
        let others = a & !keep;
        for l in lanes(others) {
            self.lane_pc[l] = targets[l];
            if targets[l] < self.parked_min {
                self.parked_min = targets[l];
            }
        }
        self.parked |= others;
        self.active = keep;
        self.pc = best;
    }

    /// Whether every live lane is in the running group.
    #[inline]
    pub fn converged(&self) -> bool {
        self.active == self.live()
    }

    /// EXIT of lanes `m` of the running group (the rest continue at pc + 1).
    pub fn exit_lanes(&mut self, m: u32) {
        self.exited |= m;
        self.active &= !m;
        for b in 0..16 {
            self.barriers[b] &= !m;
        }
        self.pc += 1;
        self.resolve_waits();
    }

    /// BSYNC of barrier `b` by lanes `exec` of the running group.
    #[inline(always)]
    pub fn bsync(&mut self, b: usize, exec: u32) {
        let part = exec & self.barriers[b];
        let pc = self.pc;
        // participants wait here
        self.set_lane_pc(part, pc);
        self.bsync_wait[b] |= part;
        self.active &= !part;
        if self.bsync_complete(b) {
            let rel = self.bsync_wait[b] & self.barriers[b];
            self.bsync_wait[b] &= !rel;
            // the lanes of `part` (all in `rel`) are at pc: only earlier waiters are looked up
            let older = rel & !part;
            let here = part | if older != 0 { self.lanes_at(older, pc) } else { 0 };
            self.active |= here;
            self.park_after(rel & !here);
        }
        self.pc += 1;
    }

    /// Lanes of `m` whose `lane_pc` is `pc` (a vector compare over the 32 lanes).
    #[inline(always)]
    fn lanes_at(&self, m: u32, pc: u32) -> u32 {
        mask_of(|l| self.lane_pc[l] == pc) & m
    }

    #[inline]
    fn bsync_complete(&self, b: usize) -> bool {
        let expected = self.barriers[b] & self.live();
        expected & !self.bsync_wait[b] == 0 && self.bsync_wait[b] & self.barriers[b] != 0
    }

    /// WARPSYNC with mask `m` (per lane) by lanes `exec` of the running group.
    pub fn warpsync(&mut self, exec: u32, masks: &[u32; 32]) {
        let pc = self.pc;
        for l in lanes(exec) {
            self.lane_pc[l] = pc;
            self.ws_need[l] = masks[l] | (1 << l);
        }
        self.ws_wait |= exec;
        self.active &= !exec;
        let rel = self.warpsync_releasable();
        if rel != 0 {
            self.ws_wait &= !rel;
            let here = self.lanes_at(rel, pc);
            self.active |= here;
            self.park_after(rel & !here);
        }
        self.pc += 1;
    }

    fn warpsync_releasable(&self) -> u32 {
        let live = self.live();
        let mut rel = 0;
        for l in lanes(self.ws_wait) {
            let need = self.ws_need[l] & live;
            if need & !self.ws_wait == 0 {
                rel |= 1 << l;
            }
        }
        rel
    }

    /// Re-check waits after lanes exited, broke out of a barrier or a barrier was rewritten.
    pub fn resolve_waits(&mut self) {
        for b in 0..16 {
            if self.bsync_wait[b] != 0 && self.bsync_complete(b) {
                let rel = self.bsync_wait[b] & self.barriers[b];
                self.bsync_wait[b] &= !rel;
                self.park_after(rel);
            }
        }
        if self.ws_wait != 0 {
            let rel = self.warpsync_releasable();
            if rel != 0 {
                self.ws_wait &= !rel;
                self.park_after(rel);
            }
        }
    }

    /// BAR.SYNC arrival of lanes `exec` (they wait; the CTA releases them).
    pub fn bar_arrive(&mut self, id: usize, exec: u32) {
        let pc = self.pc;
        for l in lanes(exec) {
            self.lane_pc[l] = pc;
        }
        self.bar_wait[id] |= exec;
        self.active &= !exec;
        self.pc += 1;
    }

    /// Release the lanes waiting at BAR.SYNC barrier `id`.
    pub fn bar_release(&mut self, id: usize) {
        let m = self.bar_wait[id];
        self.bar_wait[id] = 0;
        self.park_after(m);
    }

    /// Lanes waiting at any BAR.SYNC.
    pub fn bar_waiting(&self) -> u32 {
        self.bar_wait.iter().fold(0, |a, b| a | b)
    }

    /// Lanes waiting at BSYNC or WARPSYNC.
    pub fn sync_waiting(&self) -> u32 {
        self.bsync_wait.iter().fold(self.ws_wait, |a, b| a | b)
    }

    /// Whether any lane can run.
    #[inline]
    pub fn runnable(&self) -> bool {
        self.active != 0 || self.parked != 0
    }

    /// Whether every lane has exited.
    #[inline]
    pub fn done(&self) -> bool {
        self.exited == FULL
    }
}
