//! Keeping freed activation memory in the process.
//!
//! The networks allocate and free tensors of a few hundred KiB to a few MiB per layer. With
//! glibc's defaults such blocks are mapped fresh or trimmed back to the kernel after each
//! free, so every layer pays page faults on memory it just released: on the landmark net's
//! first block (32×56×56 activations) that was 7.0 ms of 14.4 ms at batch 1. Raising the
//! thresholds keeps them in the heap (dense block 3.9 ms, whole net 11.7 ms).

/// Blocks up to this size come from the heap rather than a fresh mapping (glibc's own
/// ceiling for its adaptive threshold on 64-bit).
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of the heap is returned to the kernel only beyond this.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// Tunes the C allocator for repeated inference; a no-op where it is not glibc's. Call
/// once at program start (binaries, benchmarks); returns whether the settings took.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; both values are in range.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
