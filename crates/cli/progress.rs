use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that stays invisible for the first second, so quick runs print nothing,
/// and that is never drawn with `--quiet` or when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    enabled: bool,
    shown: std::sync::atomic::AtomicBool,
}

const DELAY: Duration = Duration::from_secs(1);

impl Progress {
    pub fn new(len: u64, message: &str, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        Progress {
            bar,
            started: Instant::now(),
            enabled: !quiet,
            shown: false.into(),
        }
    }

    pub fn inc(&self) {
        self.bar.inc(1);
        if self.enabled
            && self.started.elapsed() > DELAY
            && !self.shown.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
