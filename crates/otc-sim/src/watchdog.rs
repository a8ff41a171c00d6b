//! Stopping a launch that runs too long or that the user wants stopped.
//!
//! Three limits bound every launch ([`crate::DeviceConfig`]): `max_instructions` (warp-
//! instructions per launch) and `max_cycles` (issue cycles per CTA) are counted in CTA order, so
//! the fault they raise is the same for any thread count; `max_seconds` (wall-clock seconds per
//! launch) depends on the host's speed by nature. All three end the launch with a
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
}

/// What the scheduling loop polls during one launch: the cancel flag and the deadline.
#[derive(Debug)]
pub(crate) struct Watch {
    token: CancelToken,
    deadline: Option<(Instant, f64)>,
}

/// Polls between two reads of the clock (the flag is read at every poll).
const POLLS_PER_CLOCK_READ: u32 = 16;

impl Watch {
    pub fn new(token: CancelToken, max_seconds: Option<f64>) -> Watch {
        let deadline = max_seconds.map(|s| {
            let now = Instant::now();
            (now.checked_add(Duration::from_secs_f64(s)).unwrap_or(now + Duration::from_secs(1 << 40)), s)
        });
        Watch { token, deadline }
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
