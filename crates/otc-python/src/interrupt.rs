//! Ctrl-C during long calls: the work runs on a helper thread while the calling thread, without
//! the GIL, checks Python's signals every [`POLL`]. When a signal handler raises (the default
//! SIGINT handler raises `KeyboardInterrupt`), the core's cancel flag is set, the work stops at
//! its next poll (`otc_sim::watchdog`), and the handler's exception is raised once the work has
//! returned, so nothing is left running and device memory stays consistent and readable.
//!
//! Python runs signal handlers only on the main thread; on other threads the check does nothing
//! and the call simply waits for the work.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
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
            // on a signal: cancel, then wait for the work to stop at its next poll
            let (_, raised) = wait_for(&done_rx, || token.cancel(), false);
            let result = worker.join().unwrap_or_else(|_| Err(Error::Internal("the worker thread panicked".into())));
            match raised {
                Some(e) => Err(Error::Py(e)),
                None => result,
            }
        })
    })
}

/// Run `work` (under [`guard`]) on a thread of its own and return as soon as it is done or a
/// signal handler raises; in the second case `work` (which cannot be cancelled: it owns all its
/// data) finishes in the background and its result is dropped. For pure computations such as
/// assembling a text.
pub(crate) fn abandonable<T: Send + 'static>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    py.detach(|| {
        let (done_tx, done_rx) = channel::<Result<T, Error>>();
        std::thread::spawn(move || {
            let _ = done_tx.send(guard(work));
        });
        match wait_for(&done_rx, || {}, true) {
            (_, Some(e)) => Err(Error::Py(e)),
            (Some(result), None) => result,
            (None, None) => Err(Error::Internal("the worker thread panicked".into())),
        }
    })
}

/// Wait until `done` delivers a message or is closed, checking Python's signals every [`POLL`];
/// when a handler raises, call `on_signal` and keep its exception, returning at once if
/// `stop_waiting`. Returns the message (if any) and the exception (if any).
fn wait_for<M>(done: &Receiver<M>, on_signal: impl Fn(), stop_waiting: bool) -> (Option<M>, Option<PyErr>) {
    let mut raised: Option<PyErr> = None;
    loop {
        match done.recv_timeout(POLL) {
            Ok(m) => return (Some(m), raised),
            Err(RecvTimeoutError::Disconnected) => return (None, raised),
            Err(RecvTimeoutError::Timeout) if raised.is_none() => {
                if let Err(e) = Python::attach(|py| py.check_signals()) {
                    on_signal();
                    if stop_waiting {
                        return (None, Some(e));
                    }
                    raised = Some(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}
