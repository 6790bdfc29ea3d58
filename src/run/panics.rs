//! Panics inside a cell: caught, turned into the cell's failure reason, and kept off the
//! terminal. A process-wide panic hook stays quiet on a thread while it trains a cell
//! (recording where the panic happened) and hands every other panic to the hook that was
//! installed before, so panics elsewhere print as usual.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static IN_CELL: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the quiet hook once per process, chaining to the previous hook.
pub(super) fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_CELL.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                LOCATION.with(|c| *c.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` on this thread with the hook quiet; a panic becomes
/// `Err("internal error (panic at <file>:<line>): <message>")`.
pub(super) fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = IN_CELL.with(|c| c.replace(true));
    LOCATION.with(|c| c.borrow_mut().take());
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    IN_CELL.with(|c| c.set(was));
    r.map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        match LOCATION.with(|c| c.borrow_mut().take()) {
            Some(at) => format!("internal error (panic at {at}): {msg}"),
            None => format!("internal error (panic): {msg}"),
        }
    })
}

/// Whether a failure's text is a device (or host) allocation failure: CUDA's
/// `CUDA_ERROR_OUT_OF_MEMORY` and "out of memory", CubeCL's `OutOfMemory` / "out of device
/// memory", libtorch's "CUDA out of memory" and "can't allocate memory". Case, spaces,
/// `-` and `_` are ignored.
pub fn is_out_of_memory(text: &str) -> bool {
    let squashed: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    ["outofmemory", "outofdevicememory", "allocatememory"]
        .iter()
        .any(|k| squashed.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_texts_of_each_backend() {
        for t in [
            "internal error (panic): called `Result::unwrap()` on an `Err` value: DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")",
            "out of device memory allocating 1073741824 bytes",
            "An out-of-memory error happened during launch",
            "OutOfMemory { size: 12 }",
            "Torch(\"CUDA out of memory. Tried to allocate 2.00 GiB\")",
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes",
        ] {
            assert!(is_out_of_memory(t), "{t}");
        }
        for t in [
            "index out of bounds: the len is 0",
            "memory layout mismatch",
            "mock panic",
        ] {
            assert!(!is_out_of_memory(t), "{t}");
        }
    }
}
