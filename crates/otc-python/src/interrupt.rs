//! Ctrl-C during long calls: the work runs on a helper thread while the calling thread, without
//! the GIL, checks Python's signals every [`POLL`]. When a signal handler raises (the default
//! SIGINT handler raises `KeyboardInterrupt`), the core's cancel flag is set, the work stops at
//! its next poll (`otc_sim::watchdog`), and the handler's exception is raised once the work has
//! returned, so nothing is left running and device memory stays consistent and readable.
//!
//! Python runs signal handlers only on the main thread; on other threads the check does nothing
//! and the call simply waits for the work.

use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use otc_sim::CancelToken;
use pyo3::prelude::*;

use crate::errors::{guard, Error};

/// How often the waiting thread checks for signals.
const POLL: Duration = Duration::from_millis(20);

/// Run `work` (under [`guard`]) so that a signal stops it through `token`. The token is reset
/// first; a signal that arrives while `work` runs wins over its result.
pub(crate) fn interruptible<T: Send>(
    py: Python<'_>,
    token: &CancelToken,
    work: impl FnOnce() -> Result<T, Error> + Send,
) -> Result<T, Error> {
    token.reset();
    py.detach(|| {
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = channel::<()>();
            let worker = scope.spawn(move || {
                let result = guard(work);
                let _ = done_tx.send(());
                result
            });
            let mut raised: Option<PyErr> = None;
            loop {
                match done_rx.recv_timeout(POLL) {
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) if raised.is_none() => {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            token.cancel();
                            raised = Some(e);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
            let result = worker.join().unwrap_or_else(|_| Err(Error::Internal("the worker thread panicked".into())));
            match raised {
                Some(e) => Err(Error::Py(e)),
                None => result,
            }
        })
    })
}
