//! Process settings for running the networks many times: call [`tune_process`] once at the
//! start of a program (the `kao` binary and xtask do), before any thread or tensor exists.
//!
//! Memory ([`keep_freed_memory`]): the networks allocate and free tensors of a few hundred KiB to a few MiB per layer. With
//! glibc's defaults such blocks are mapped fresh or trimmed back to the kernel after each
//! free, so every layer pays page faults on memory it just released: on the landmark net's
//! first block (32×56×56 activations) that was 7.0 ms of 14.4 ms at batch 1. Raising the
//! thresholds keeps them in the heap (dense block 3.9 ms, whole net 11.7 ms).

/// Blocks up to this size come from the heap rather than a fresh mapping (glibc's own
/// ceiling for its adaptive threshold on 64-bit).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of the heap is returned to the kernel only beyond this.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 256 << 20;

/// The three settings below. Process-global: meant for binaries, not for libraries to call.
pub fn tune_process() {
    keep_freed_memory();
    elementwise_on_calling_thread();
    fixed_thread_count();
}

/// candle asks for its thread count on every matrix product and, without
/// `RAYON_NUM_THREADS`, works it out by parsing `/proc/cpuinfo` each time (2 % of a crop
/// run in `perf`). Setting it to the number rayon would pick anyway removes the parsing.
pub fn fixed_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
}

/// candle 0.11 runs its elementwise ops (the adds, relus and normalisations between the
/// convolutions) on a separate pool whose workers spin for up to 25,000 iterations after each
/// op waiting for the next. Kao already runs photos or requests in parallel, so those
/// spinning workers only take cores from the real work: `perf` put 27 % of a crop run in the
/// spin loops, and `kao crop` on lfw5's 530 George_W_Bush photos went from 38.1 to 54.2
/// photos/s with the pool off. Setting `CANDLE_NUM_THREADS=1` (unless the user set it) turns
/// it off; matrix products still use every core (they follow `RAYON_NUM_THREADS`).
pub fn elementwise_on_calling_thread() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// Tunes the C allocator for repeated inference; a no-op where it is not glibc's. Returns
/// whether the settings took.
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
