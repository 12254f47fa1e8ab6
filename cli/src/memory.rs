//! Linear memories that report their size, for [`Policy::load_measuring_memory`]
//! (`crate::Policy`): wasmtime-provider keeps the wasmtime `Store` to itself, so
//! the size of an instance's memory is observed where wasmtime creates and
//! grows it, through a custom [`MemoryCreator`] on a second engine.
//!
//! The memories are laid out as wasmtime lays out its own: one reservation of
//! `reserved + guard` bytes, inaccessible except for the first `byte_size()`
//! bytes, which never moves, so the code wasmtime compiles for the default
//! engine (bounds checks elided thanks to the guard region) is valid here too.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime_provider::wasmtime::{self, LinearMemory, MemoryCreator, MemoryType};

thread_local! {
    /// Size counters of the memories created on this thread since the last
    /// [`take_created`]: an instance's memory is created while it is
    /// instantiated, on the instantiating thread.
    static CREATED: RefCell<Vec<Arc<AtomicUsize>>> = const { RefCell::new(Vec::new()) };
}

/// Forgets the memories created on this thread so far.
pub(crate) fn forget_created() {
    CREATED.with(|c| c.borrow_mut().clear());
}

/// The size counters of the memories created on this thread since the last
/// call (or [`forget_created`]).
pub(crate) fn take_created() -> Vec<Arc<AtomicUsize>> {
    CREATED.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

/// Creates [`SizedMemory`]s.
pub(crate) struct SizedMemoryCreator;

unsafe impl MemoryCreator for SizedMemoryCreator {
    fn new_memory(
        &self,
        _ty: MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        let reserved = reserved_size_in_bytes
            .or(maximum)
            .ok_or("a memory without maximum needs a reservation")?
            .max(minimum);
        let mapped = reserved
            .checked_add(guard_size_in_bytes)
            .ok_or("reservation too large")?;
        // SAFETY: a fresh anonymous private mapping, inaccessible and
        // zero-filled; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!(
                "mmap of {mapped} bytes failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        let size = Arc::new(AtomicUsize::new(0));
        let mut memory = SizedMemory {
            base: base.cast(),
            mapped,
            reserved,
            size: size.clone(),
        };
        memory.grow_to(minimum).map_err(|e| e.to_string())?;
        CREATED.with(|c| c.borrow_mut().push(size));
        Ok(Box::new(memory))
    }
}

/// A linear memory whose accessible size is shared through an
/// `Arc<AtomicUsize>`.
struct SizedMemory {
    base: *mut u8,
    mapped: usize,
    reserved: usize,
    size: Arc<AtomicUsize>,
}

// SAFETY: the mapping is owned by this value and only accessed through
// wasmtime, which serialises access to a store's memories.
unsafe impl Send for SizedMemory {}
unsafe impl Sync for SizedMemory {}

impl Drop for SizedMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new_memory`.
        unsafe {
            libc::munmap(self.base.cast(), self.mapped);
        }
    }
}

unsafe impl LinearMemory for SizedMemory {
    fn byte_size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    fn byte_capacity(&self) -> usize {
        self.reserved
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        let old = self.byte_size();
        if new_size > self.reserved {
            return Err(wasmtime::format_err!(
                "cannot grow linear memory to {new_size} bytes: {} are reserved",
                self.reserved
            ));
        }
        if new_size > old {
            // SAFETY: [old, new_size) lies inside the mapping; wasm sizes are
            // multiples of the 64 KiB wasm page, so the range is page-aligned.
            let rc = unsafe {
                libc::mprotect(
                    self.base.add(old).cast(),
                    new_size - old,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                return Err(wasmtime::format_err!(
                    "mprotect failed: {}",
                    std::io::Error::last_os_error()
                ));
            }
            self.size.store(new_size, Ordering::Relaxed);
        }
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.base
    }
}
