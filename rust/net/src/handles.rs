//! Handle allocation. One counter serves connections, listen sockets and poll groups, so a handle
//! of one kind passed where another is expected is simply unknown, and a closed handle is not
//! handed out again until the 32-bit space wraps.

use crate::types::Handle;

#[derive(Debug)]
pub struct HandleAllocator {
    next: Handle,
}

impl Default for HandleAllocator {
    fn default() -> Self {
        HandleAllocator { next: 1 }
    }
}

impl HandleAllocator {
    /// A fresh non-zero handle for which `in_use` is false.
    pub fn allocate(&mut self, in_use: impl Fn(Handle) -> bool) -> Handle {
        loop {
            let handle = self.next;
            self.next = self.next.wrapping_add(1);
            if handle != 0 && !in_use(handle) {
                return handle;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_zero_and_skips_live_handles() {
        let mut alloc = HandleAllocator { next: u32::MAX };
        assert_eq!(alloc.allocate(|_| false), u32::MAX);
        assert_eq!(alloc.allocate(|_| false), 1, "wraps past zero");
        assert_eq!(alloc.allocate(|h| h == 2), 3);
    }
}
