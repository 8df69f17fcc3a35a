//! `kao pipeline --executor slurm`'s display: the submitted jobs, a bar per step as its
//! tasks finish, and a line per finished or resubmitted task.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kao_pipeline::slurm::SlurmEvent;

pub struct Jobs {
    quiet: bool,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Jobs {
    pub fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Jobs {
            quiet,
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: String) {
        if !self.quiet {
            self.multi.suspend(|| eprintln!("{text}"));
        }
    }

    pub fn event(&self, e: SlurmEvent) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            SlurmEvent::Submitted { jobs, dir } => {
                let mut text = format!(
                    "submitted to Slurm (scripts and logs in {}):",
                    dir.display()
                );
                for j in &jobs {
                    let what = match j.array {
                        Some(n) => format!("array of {n} tasks"),
                        None => "one task".to_string(),
                    };
                    text.push_str(&format!("\n  {:<9} job {:<8} {what}", j.step, j.id));
                }
                let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
                text.push_str(&format!("\n  cancel with: scancel {}", ids.join(" ")));
                self.line(text);
                for j in jobs {
                    let (step, tasks) = (j.step, j.array.unwrap_or(1));
                    let bar = self.multi.add(ProgressBar::new(u64::from(tasks)));
                    bar.set_style(
                        ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {msg}")
                            .expect("static template")
                            .progress_chars("=> "),
                    );
                    bar.set_prefix(step.clone());
                    bar.set_message("waiting");
                    bars.insert(step, bar);
                }
            }
            SlurmEvent::Progress {
                step,
                done,
                running,
                total,
            } => {
                if let Some(bar) = bars.get(&step) {
                    bar.set_position(done as u64);
                    if done == total {
                        bar.finish_with_message("done");
                    } else if running > 0 {
                        bar.set_message(format!("{running} running"));
                    }
                }
            }
            SlurmEvent::TaskFinished { step, task, job } => {
                let task = if task.is_empty() {
                    String::new()
                } else {
                    format!(" {task}")
                };
                self.line(format!("    {step}{task} done (job {job})"));
            }
            SlurmEvent::TaskRetried {
                step,
                task,
                job,
                state,
                log,
                retry,
            } => {
                let task = if task.is_empty() {
                    String::new()
                } else {
                    format!(" {task}")
                };
                let text = format!(
                    "warning: {step}{task} (job {job}) ended {state}; resubmitted as job {retry} (log: {})",
                    log.display()
                );
                if self.quiet {
                    tracing::warn!("{text}");
                } else {
                    self.line(text);
                }
            }
        }
    }

    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}
