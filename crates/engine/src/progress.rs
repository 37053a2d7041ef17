//! Progress of long runs, for a caller that draws it (the CLI's bar with an ETA). The engine
//! does no I/O: it calls an observer the caller installs on its own thread for the duration of
//! a closure, with (events processed, events expected). Results never depend on it.

use std::cell::RefCell;

type Observer = Box<dyn FnMut(u64, u64)>;

thread_local! {
    static OBSERVER: RefCell<Option<Observer>> = const { RefCell::new(None) };
}

/// Run `body` with `observer` told the progress of every engine run on this thread.
pub fn observe<R>(observer: impl FnMut(u64, u64) + 'static, body: impl FnOnce() -> R) -> R {
    let previous = OBSERVER.with(|o| o.borrow_mut().replace(Box::new(observer)));
    let r = body();
    OBSERVER.with(|o| *o.borrow_mut() = previous);
    r
}

/// Tell the observer, if any.
pub(crate) fn tick(done: u64, total: u64) {
    OBSERVER.with(|o| {
        if let Ok(mut o) = o.try_borrow_mut() {
            if let Some(f) = o.as_mut() {
                f(done, total);
            }
        }
    });
}
