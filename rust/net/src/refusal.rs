//! Why the last call on this thread failed, in words a game developer can act on.
//!
//! GNS answers a bad call with a bare failure value (0, `false`, `k_EResultInvalidParam`), which
//! leaves a developer guessing: was the handle closed, of the wrong kind, the port taken? The
//! sockets layer records the reason here at the point that knows it; the binding takes it right
//! after the call and shows it (the Godot layer as a rate-limited warning). A thread-local keeps
//! the reason with the call that caused it, whichever thread made the call, and costs nothing
//! when calls succeed.

use std::cell::RefCell;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Record why the current call fails. A later reason in the same call replaces an earlier one.
pub fn refuse(why: impl Into<String>) {
    LAST.with(|last| *last.borrow_mut() = Some(why.into()));
}

/// The reason recorded since the last `take` on this thread, if any.
pub fn take() -> Option<String> {
    LAST.with(|last| last.borrow_mut().take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_once_per_thread() {
        refuse("first");
        refuse("second");
        std::thread::spawn(|| assert_eq!(take(), None, "another thread's reason is not ours")).join().unwrap();
        assert_eq!(take().as_deref(), Some("second"));
        assert_eq!(take(), None);
    }
}
