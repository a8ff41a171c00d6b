//! Stopping a launch that runs too long or that the user wants stopped.
//!
//! Three limits bound every launch ([`crate::DeviceConfig`]): `max_instructions` (warp-
//! instructions per launch) and `max_cycles` (issue cycles per CTA) are counted in CTA order, so
//! the fault they raise is the same for any thread count; `max_seconds` (wall-clock seconds per
//! launch) depends on the host's speed by nature. With the cycle model on, a fourth,
//! `max_trace_bytes`, bounds its memory: each CTA's recording may take its share (the limit
//! over the CTAs the model holds at once, [`TraceShare`]), checked where the deadline is, at
//! points that do not depend on the thread count. All of them end the launch with a
//! `FaultKind::Watchdog` guest fault naming the pc and warp that was running.
//!
//! A [`CancelToken`] stops a launch from another thread (the Python binding sets it when
//! Ctrl-C arrives): the launch returns [`crate::SimError::Cancelled`]. Both are polled by the CTA
//! scheduling loop (`cta.rs`) between warp slices, so a launch stops within one slice (at most
//! `WARP_SLICE` warp-instructions) of every CTA running at that moment. Memory then holds what
//! the sequential run would hold at that point (the CTAs before the stopped one, and that CTA's
//! writes so far) and stays readable, as after any guest fault.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A flag that stops the launches of a device (cloned handles share it).
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the running launch (or the next one, until [`CancelToken::reset`]) to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Clear the flag (a launch does not do this itself: a cancel that arrives just before a
    /// launch starts still stops it).
    pub fn reset(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Why a running launch must stop now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Interrupt {
    Cancelled,
    /// The wall-clock limit (`max_seconds`) passed.
    Deadline(f64),
    /// The CTA's trace for the cycle model passed its share of `max_trace_bytes`.
    TraceBytes(TraceShare),
}

/// A CTA's share of the cycle model's trace memory (`max_trace_bytes` over the CTAs the model
/// holds at once), for the watchdog that keeps the model's memory bounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TraceShare {
    /// Bytes one CTA's recording may reach.
    pub per_cta: u64,
    /// `max_trace_bytes`.
    pub total: u64,
    /// The CTAs the model holds at once (the share's divisor).
    pub resident: u64,
}

/// What the scheduling loop polls during one launch: the cancel flag and the deadline.
#[derive(Debug)]
pub(crate) struct Watch {
    token: CancelToken,
    deadline: Option<(Instant, f64)>,
    trace: Option<TraceShare>,
}

/// Polls between two reads of the clock (the flag is read at every poll).
const POLLS_PER_CLOCK_READ: u32 = 16;

impl Watch {
    pub fn new(token: CancelToken, max_seconds: Option<f64>) -> Watch {
        let deadline = max_seconds.map(|s| {
            let now = Instant::now();
            (now.checked_add(Duration::from_secs_f64(s)).unwrap_or(now + Duration::from_secs(1 << 40)), s)
        });
        Watch { token, deadline, trace: None }
    }

    /// Also stop a CTA whose recording for the cycle model passes `share.per_cta` bytes.
    pub fn with_trace_share(mut self, share: Option<TraceShare>) -> Watch {
        self.trace = share;
        self
    }

    /// Whether a CTA that has recorded `bytes` for the cycle model must stop (checked where
    /// [`Watch::poll`] is, so at the same, deterministic points for any thread count).
    #[inline]
    pub fn trace_over(&self, bytes: usize) -> Option<Interrupt> {
        match self.trace {
            Some(t) if bytes as u64 > t.per_cta => Some(Interrupt::TraceBytes(t)),
            _ => None,
        }
    }

    /// Whether the launch must stop; `polls` is the caller's poll counter (the clock is read
    /// every [`POLLS_PER_CLOCK_READ`] polls).
    #[inline]
    pub fn poll(&self, polls: &mut u32) -> Option<Interrupt> {
        if self.token.is_cancelled() {
            return Some(Interrupt::Cancelled);
        }
        *polls = polls.wrapping_add(1);
        match self.deadline {
            Some((at, s)) if polls.is_multiple_of(POLLS_PER_CLOCK_READ) && Instant::now() >= at => {
                Some(Interrupt::Deadline(s))
            }
            _ => None,
        }
    }

    pub fn cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}
