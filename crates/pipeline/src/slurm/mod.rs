//! `kao pipeline --executor slurm`: the pipeline as a chain of Slurm jobs. Collect (one task
//! per tag), crop and the descriptor stage run as job arrays, one task per shard
//! (`kao collect|crop|embed --shard I/N`); the split, and then train, evaluate and publish,
//! run as single jobs of `kao pipeline`, which merge the shards before them. Each job waits
//! for the one before with `--dependency=afterok`.
//!
//! The submitting process follows the jobs with `squeue` and `sacct` (or `scontrol` where
//! the cluster keeps no accounting), reports tasks as they finish, resubmits a failed task
//! once (a shard resumes from its own records) and points the jobs waiting for it at the
//! new one; a task that fails twice ends the run with its log. Scripts and logs are in
//! `W/slurm/run-<time>/`.

mod commands;
mod plan;
mod shared;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use kao_dataset::WorkDir;
use serde::Serialize;

pub use plan::{plan, Launch, Step};
pub use shared::verdict as shared_fs_verdict;

use crate::config::PipelineConfig;
use crate::error::{PipelineError, Result};
use crate::report::{PipelineReport, StageReport, Status};
use crate::run::RunOptions;
use crate::stage::Stage;
use crate::state::PipelineState;

/// What can stop a Slurm run.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// A Slurm command could not run or failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    /// The work dir is not on a filesystem the cluster's nodes see.
    #[error("{}: {message}", path.display())]
    NotShared { path: PathBuf, message: String },
    /// A task failed, was resubmitted, and failed again.
    #[error("{step} task {task} (job {job}) ended {state} twice{}: see its log {}", last_error(.log), log.display())]
    TaskFailed {
        step: String,
        task: String,
        job: String,
        state: String,
        log: PathBuf,
    },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

/// The last `error:` line of a task's log, if any, as ` (error: …)`.
fn last_error(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|text| {
            text.lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .map(|l| format!(" ({})", l.trim()))
        })
        .unwrap_or_default()
}

/// What the run reports while it follows the jobs.
#[derive(Debug, Clone)]
pub enum SlurmEvent {
    /// Every job of the chain is queued, in order, and the folder of the scripts and logs.
    Submitted {
        jobs: Vec<SubmittedJob>,
        dir: PathBuf,
    },
    /// A step's tasks: finished, running, of all.
    Progress {
        step: String,
        done: usize,
        running: usize,
        total: usize,
    },
    /// A task ended well.
    TaskFinished {
        step: String,
        task: String,
        job: String,
    },
    /// A task failed and was submitted again as `retry`.
    TaskRetried {
        step: String,
        task: String,
        job: String,
        state: String,
        log: PathBuf,
        retry: String,
    },
}

/// One job of the chain.
#[derive(Debug, Clone)]
pub struct SubmittedJob {
    pub step: String,
    pub id: String,
    /// Tasks of a job array (`None`: a single job).
    pub array: Option<u32>,
}

/// The event callback's type.
pub type SlurmEvents<'a> = &'a (dyn Fn(SlurmEvent) + Send + Sync);

/// One task of a submitted job: its current Slurm id (`123` or `123_4`), its log, and
/// whether it was resubmitted already.
#[derive(Debug, Clone)]
struct Slot {
    id: String,
    log: PathBuf,
    retried: bool,
    done: bool,
    /// Polls in a row where no Slurm command knew the task.
    unknown: u32,
}

struct Job {
    step: Step,
    script: PathBuf,
    id: String,
    slots: Vec<Slot>,
}

/// `run.json` in the run's folder: what is submitted (the tasks' scripts check that they
/// can see it, which fails when the work dir is not on a filesystem their node mounts).
/// The job ids follow in `jobs.json`.
#[derive(Serialize)]
struct RunRecord<'a> {
    work: &'a Path,
    config: Option<&'a Path>,
    source_dir: Option<&'a Path>,
    kao: &'a Path,
    steps: Vec<&'static str>,
}

/// Runs the pipeline of `config` on a Slurm cluster (settings: `config.slurm`) and returns
/// the report of its last job, as `crate::run` would. `launch` is how the tasks load the
/// same config.
pub fn run(
    config: &PipelineConfig,
    launch: &Launch,
    options: &RunOptions,
    events: SlurmEvents,
) -> Result<PipelineReport> {
    if options.from.is_none_or(|f| f <= Stage::Collect) {
        config.validate()?;
    }
    let settings = &config.slurm;
    let kao = match &settings.kao {
        Some(k) => k.clone(),
        None => std::env::current_exe().map_err(|e| io(Path::new("kao"), e))?,
    };
    let work = WorkDir::new(&launch.work);
    std::fs::create_dir_all(work.root()).map_err(|e| io(work.root(), e))?;
    shared::check(work.root(), settings.partition.as_deref())?;
    let started = SystemTime::now();
    let before = PipelineState::read(&work.pipeline_state());
    let dir = run_dir(&work)?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| io(&logs, e))?;
    let steps = plan(options, launch, config.tags.len(), settings.shards());
    // Before anything is submitted: every task's script checks that its node sees it.
    kao_dataset::write_atomic_json(
        &dir.join("run.json"),
        &RunRecord {
            work: work.root(),
            config: launch.config.as_deref(),
            source_dir: launch.source_dir.as_deref(),
            kao: &kao,
            steps: steps.iter().map(|s| s.name).collect(),
        },
    )
    .map_err(|e| io(&dir, std::io::Error::other(e.to_string())))?;
    let mut jobs: Vec<Job> = Vec::new();
    let mut previous: Option<String> = None;
    for step in steps {
        let script = dir.join(format!("{}.sh", step.name));
        write_script(&script, &kao, &dir, &step)?;
        let mut args = submit_options(config, &step, &logs);
        if let Some(p) = &previous {
            args.push(format!("--dependency=afterok:{p}"));
            args.push("--kill-on-invalid-dep=no".into());
        }
        let id = match commands::sbatch(&args, &script) {
            Ok(id) => id,
            Err(e) => {
                commands::scancel(&jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>());
                return Err(e.into());
            }
        };
        let slots = match step.shards {
            Some(n) => (0..n)
                .map(|i| slot(format!("{id}_{i}"), log_path(&logs, &step, &id, Some(i))))
                .collect(),
            None => vec![slot(id.clone(), log_path(&logs, &step, &id, None))],
        };
        previous = Some(id.clone());
        jobs.push(Job {
            step,
            script,
            id,
            slots,
        });
    }
    let ids: Vec<(&str, &str)> = jobs.iter().map(|j| (j.step.name, j.id.as_str())).collect();
    kao_dataset::write_atomic_json(&dir.join("jobs.json"), &ids)
        .map_err(|e| io(&dir, std::io::Error::other(e.to_string())))?;
    events(SlurmEvent::Submitted {
        jobs: jobs
            .iter()
            .map(|j| SubmittedJob {
                step: j.step.name.to_string(),
                id: j.id.clone(),
                array: j.step.shards,
            })
            .collect(),
        dir: dir.clone(),
    });
    follow(config, &mut jobs, &logs, events)?;
    let path = work.pipeline_report();
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= started);
    let report: Option<PipelineReport> = fresh
        .then(|| std::fs::read(&path).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut report = report.ok_or_else(|| PipelineError::State {
        path,
        message: "the last job ended without writing the run's report".into(),
    })?;
    // The last job saw the stages that earlier jobs of the chain ran as unchanged: show
    // them as this run's, with the rows they recorded.
    let after = PipelineState::read(&work.pipeline_state());
    for row in &mut report.stages {
        let (Some(a), b) = (after.stages.get(&row.stage), before.stages.get(&row.stage)) else {
            continue;
        };
        if row.status == Status::Unchanged && b.is_none_or(|b| b.report != a.report) {
            *row = StageReport {
                status: Status::Ran,
                ..a.report.clone()
            };
        }
    }
    report.wall_s = started.elapsed().map_or(report.wall_s, |d| d.as_secs_f64());
    Ok(report)
}

fn slot(id: String, log: PathBuf) -> Slot {
    Slot {
        id,
        log,
        retried: false,
        done: false,
        unknown: 0,
    }
}

/// Polls the jobs until the last one has finished; resubmits a failed task once.
fn follow(
    config: &PipelineConfig,
    jobs: &mut [Job],
    logs: &Path,
    events: SlurmEvents,
) -> Result<()> {
    let poll = config.slurm.poll();
    let mut shown: Vec<(usize, usize)> = vec![(usize::MAX, usize::MAX); jobs.len()];
    loop {
        let waiting: Vec<String> = jobs
            .iter()
            .flat_map(|j| &j.slots)
            .filter(|s| !s.done)
            .map(|s| base_id(&s.id).to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let active = commands::squeue(&waiting)?;
        for j in 0..jobs.len() {
            for i in 0..jobs[j].slots.len() {
                let slot = &jobs[j].slots[i];
                if slot.done || active.contains_key(&slot.id) {
                    continue;
                }
                let ended = commands::final_state(&slot.id);
                let failed = match ended {
                    Some(e) if e.is_active() => continue,
                    Some(e) if e.succeeded() => {
                        jobs[j].slots[i].done = true;
                        events(SlurmEvent::TaskFinished {
                            step: jobs[j].step.name.to_string(),
                            task: task_name(&jobs[j].step, i),
                            job: jobs[j].slots[i].id.clone(),
                        });
                        continue;
                    }
                    Some(e) => e.state,
                    None => {
                        // Not queued, and no command knows it: give the controller a few
                        // polls (a requeue in flight) before calling it lost.
                        jobs[j].slots[i].unknown += 1;
                        if jobs[j].slots[i].unknown < 3 {
                            continue;
                        }
                        "UNKNOWN".to_string()
                    }
                };
                retry(config, jobs, j, i, &failed, logs, events)?;
            }
        }
        for (j, job) in jobs.iter().enumerate() {
            let done = job.slots.iter().filter(|s| s.done).count();
            let running = job
                .slots
                .iter()
                .filter(|s| active.get(&s.id).is_some_and(|st| st == "RUNNING"))
                .count();
            if shown[j] != (done, running) {
                shown[j] = (done, running);
                events(SlurmEvent::Progress {
                    step: job.step.name.to_string(),
                    done,
                    running,
                    total: job.slots.len(),
                });
            }
        }
        if jobs.last().is_some_and(|j| j.slots.iter().all(|s| s.done)) {
            return Ok(());
        }
        std::thread::sleep(poll);
    }
}

/// Submits task `i` of job `j` again (or ends the run if it was already), and makes the
/// next job wait for the new task instead of the failed one.
fn retry(
    config: &PipelineConfig,
    jobs: &mut [Job],
    j: usize,
    i: usize,
    state: &str,
    logs: &Path,
    events: SlurmEvents,
) -> Result<()> {
    let job = &jobs[j];
    let slot = &job.slots[i];
    if slot.retried {
        let pending: Vec<String> = jobs
            .iter()
            .flat_map(|j| &j.slots)
            .filter(|s| !s.done)
            .map(|s| s.id.clone())
            .collect();
        commands::scancel(&pending);
        return Err(SlurmError::TaskFailed {
            step: job.step.name.to_string(),
            task: task_name(&job.step, i),
            job: slot.id.clone(),
            state: state.to_string(),
            log: slot.log.clone(),
        }
        .into());
    }
    let mut args = submit_options(config, &job.step, logs);
    if job.step.shards.is_some() {
        args.push(format!("--array={i}"));
    }
    let id = commands::sbatch(&args, &job.script)?;
    let (new_id, log) = match job.step.shards {
        Some(_) => (
            format!("{id}_{i}"),
            log_path(logs, &job.step, &id, Some(i as u32)),
        ),
        None => (id.clone(), log_path(logs, &job.step, &id, None)),
    };
    events(SlurmEvent::TaskRetried {
        step: job.step.name.to_string(),
        task: task_name(&job.step, i),
        job: slot.id.clone(),
        state: state.to_string(),
        log: slot.log.clone(),
        retry: new_id.clone(),
    });
    let slot = &mut jobs[j].slots[i];
    slot.id = new_id;
    slot.log = log;
    slot.retried = true;
    slot.unknown = 0;
    // The next job waited for the whole array (or job); it waits now for each task as it
    // is, the resubmitted one included.
    if let Some(next) = jobs.get(j + 1) {
        let ids: Vec<&str> = jobs[j].slots.iter().map(|s| s.id.as_str()).collect();
        commands::set_dependency(&next.id, &format!("afterok:{}", ids.join(":")))?;
    }
    Ok(())
}

/// `123` of `123_4`.
fn base_id(id: &str) -> &str {
    id.split('_').next().unwrap_or(id)
}

/// `2/4` for an array task, empty for a single job.
fn task_name(step: &Step, i: usize) -> String {
    match step.shards {
        Some(n) => format!("{i}/{n}"),
        None => String::new(),
    }
}

fn log_path(logs: &Path, step: &Step, id: &str, task: Option<u32>) -> PathBuf {
    match task {
        Some(i) => logs.join(format!("{}-{id}_{i}.log", step.name)),
        None => logs.join(format!("{}-{id}.log", step.name)),
    }
}

/// `sbatch` options common to a step's submissions (the dependency and, for a retry, the
/// one array index are added by the caller).
fn submit_options(config: &PipelineConfig, step: &Step, logs: &Path) -> Vec<String> {
    let s = &config.slurm;
    let mut args = vec![
        format!("--job-name=kao-{}", step.name),
        format!(
            "--output={}",
            logs.join(if step.shards.is_some() {
                format!("{}-%A_%a.log", step.name)
            } else {
                format!("{}-%j.log", step.name)
            })
            .display()
        ),
    ];
    if let Some(n) = step.shards {
        args.push(format!("--array=0-{}", n.saturating_sub(1)));
    }
    if let Some(p) = &s.partition {
        args.push(format!("--partition={p}"));
    }
    if let Some(c) = s.cpus_per_task {
        args.push(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = &s.mem_per_task {
        args.push(format!("--mem={m}"));
    }
    if let Some(t) = &s.time_limit {
        args.push(format!("--time={t}"));
    }
    args.extend(s.sbatch_options.iter().cloned());
    args
}

/// The batch script of a step: checks that the node sees the work dir, sizes the thread
/// pools to the task's CPUs, and runs `kao` (with `--shard I/N` in an array).
fn write_script(path: &Path, kao: &Path, dir: &Path, step: &Step) -> Result<()> {
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut command = vec![q(&kao.display().to_string())];
    command.extend(step.args.iter().map(|a| q(a)));
    if let Some(n) = step.shards {
        command.push("--shard".into());
        command.push(format!("\"$SLURM_ARRAY_TASK_ID/{n}\""));
    }
    let run = dir.join("run.json");
    let text = format!(
        "#!/bin/sh\n\
         # kao pipeline --executor slurm: the {name} step (written by kao).\n\
         set -eu\n\
         # A node that does not see run.json (after a few seconds for the filesystem's\n\
         # caches) does not see the work dir.\n\
         for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e {run} ] && break; sleep 1; done\n\
         if [ ! -e {run} ]; then\n\
         \techo \"error: $(hostname) does not see {dir}: the work dir must be on a filesystem every node mounts at the same path\" >&2\n\
         \texit 2\n\
         fi\n\
         # Slurm gives the task its CPUs; without cgroups the process would see them all.\n\
         export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-1}}\"\n\
         cd {dir}\n\
         exec {command}\n",
        name = step.name,
        run = q(&run.display().to_string()),
        dir = q(&dir.display().to_string()),
        command = command.join(" "),
    );
    kao_dataset::write_atomic(path, text.as_bytes())
        .map_err(|e| io(path, std::io::Error::other(e.to_string())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io(path, e))?;
    }
    Ok(())
}

/// A new `W/slurm/run-<unix time>[-k]/` folder.
fn run_dir(work: &WorkDir) -> Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::fs::create_dir_all(work.slurm()).map_err(|e| io(&work.slurm(), e))?;
    for k in 0.. {
        let name = if k == 0 {
            format!("run-{secs}")
        } else {
            format!("run-{secs}-{k}")
        };
        let dir = work.slurm().join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&dir, e)),
        }
    }
    unreachable!("some run folder name is free")
}

fn io(path: &Path, e: std::io::Error) -> PipelineError {
    SlurmError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
    .into()
}

/// The poll interval when `[slurm] poll` is absent.
pub const DEFAULT_POLL: Duration = Duration::from_secs(5);
/// The shard count when `[slurm] shards` is absent.
pub const DEFAULT_SHARDS: u32 = 4;
