//! This process's CPU time and peak memory, for benchmarks that report work per CPU-second
//! (steady when other programs share the cores, where wall-clock rates are not).

/// CPU seconds (user + system) used by this process so far, all threads.
pub fn cpu_seconds() -> f64 {
    let u = usage();
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(u.ru_utime) + seconds(u.ru_stime)
}

/// The largest resident set this process has had, in MiB.
pub fn peak_rss_mib() -> f64 {
    // Linux reports ru_maxrss in KiB.
    usage().ru_maxrss as f64 / 1024.0
}

fn usage() -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given; all-zero is a valid rusage.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    }
}
