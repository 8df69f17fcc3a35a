//! Slurm's client commands (`sbatch`, `squeue`, `sacct`, `scontrol`, `scancel`, `sinfo`),
//! run as child processes, and the parsing of what they print.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use super::SlurmError;

/// Runs `program args…` and returns its standard output; a failure to start it or a
/// non-zero exit is an error naming the command and what it printed.
pub fn output(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (not installed? --executor slurm needs Slurm's client commands on this machine, \
             e.g. Debian's slurm-client, and SLURM_CONF or /etc/slurm/slurm.conf naming the cluster)"
        } else {
            ""
        };
        SlurmError::Command {
            command: format!("{program} {}", args.join(" ")),
            message: format!("{e}{hint}"),
        }
    })?;
    if !out.status.success() {
        return Err(SlurmError::Command {
            command: format!("{program} {}", args.join(" ")),
            message: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Submits a batch script; returns the job id (`sbatch --parsable` prints `id` or
/// `id;cluster`).
pub fn sbatch(options: &[String], script: &Path) -> Result<String, SlurmError> {
    let mut args = vec!["--parsable".to_string()];
    args.extend(options.iter().cloned());
    args.push(script.display().to_string());
    let out = output("sbatch", &args)?;
    let id = out.trim().split(';').next().unwrap_or_default().trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SlurmError::Command {
            command: format!("sbatch {}", args.join(" ")),
            message: format!("printed {:?}, not a job id", out.trim()),
        });
    }
    Ok(id.to_string())
}

/// The state of every queued or running task of `jobs`, by task id (`123` for a job,
/// `123_4` for an array task).
pub fn squeue(jobs: &[String]) -> Result<HashMap<String, String>, SlurmError> {
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    let args = vec![
        "--noheader".to_string(),
        "--array".to_string(),
        "--format=%i|%T".to_string(),
        format!("--jobs={}", jobs.join(",")),
    ];
    match output("squeue", &args) {
        Ok(text) => Ok(parse_squeue(&text)),
        // Every job asked for has left the controller's memory: none is queued.
        Err(SlurmError::Command { message, .. }) if message.contains("Invalid job id") => {
            Ok(HashMap::new())
        }
        Err(e) => Err(e),
    }
}

pub fn parse_squeue(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (id, state) = l.trim().split_once('|')?;
            Some((id.trim().to_string(), state.trim().to_string()))
        })
        .collect()
}

/// How a task that left the queue ended: its state (`COMPLETED`, `FAILED`, `CANCELLED`,
/// `TIMEOUT`, `OUT_OF_MEMORY`, `NODE_FAIL`, …) and exit code, from `sacct` where the
/// cluster keeps accounting, else from `scontrol show job` (which knows finished jobs for
/// the controller's MinJobAge, 5 minutes by default). `None` when neither knows it.
pub fn final_state(task: &str) -> Option<Ended> {
    let sacct = output(
        "sacct",
        &[
            "--noheader".into(),
            "--parsable2".into(),
            "--allocations".into(),
            format!("--jobs={task}"),
            "--format=JobID,State,ExitCode".into(),
        ],
    )
    .ok()
    .and_then(|text| parse_sacct(&text, task));
    sacct.or_else(|| {
        output(
            "scontrol",
            &[
                "--oneliner".into(),
                "show".into(),
                "job".into(),
                task.into(),
            ],
        )
        .ok()
        .and_then(|text| parse_scontrol(&text))
    })
}

/// A finished task's state and exit code (`2:0`: exit status 2, no signal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub state: String,
    pub exit_code: String,
}

impl Ended {
    pub fn succeeded(&self) -> bool {
        self.state == "COMPLETED"
    }

    /// Still on its way (requeued, or not yet out of the queue): not an end.
    pub fn is_active(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "REQUEUED"
                | "RESIZING"
                | "SUSPENDED"
                | "CONFIGURING"
                | "COMPLETING"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "STAGE_OUT"
                | "SIGNALING"
        )
    }
}

pub fn parse_sacct(text: &str, task: &str) -> Option<Ended> {
    text.lines().find_map(|l| {
        let mut f = l.trim().split('|');
        let (id, state, exit) = (f.next()?, f.next()?, f.next()?);
        // `CANCELLED by 0` → `CANCELLED`.
        let state = state.split_whitespace().next()?.to_string();
        (id == task).then(|| Ended {
            state,
            exit_code: exit.to_string(),
        })
    })
}

pub fn parse_scontrol(text: &str) -> Option<Ended> {
    let line = text.lines().next()?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    Some(Ended {
        state: field("JobState")?,
        exit_code: field("ExitCode").unwrap_or_default(),
    })
}

/// Changes a pending job's dependency (after a task it waited for was resubmitted).
pub fn set_dependency(job: &str, dependency: &str) -> Result<(), SlurmError> {
    output(
        "scontrol",
        &[
            "update".into(),
            format!("JobId={job}"),
            format!("Dependency={dependency}"),
        ],
    )
    .map(drop)
}

/// Cancels jobs (whole arrays by their id); errors are ignored, as jobs that already
/// ended cannot be cancelled.
pub fn scancel(jobs: &[String]) {
    if !jobs.is_empty() {
        let _ = output("scancel", jobs);
    }
}

/// The nodes of `partition` (the default partition when `None`), expanded.
pub fn partition_nodes(partition: Option<&str>) -> Result<Vec<String>, SlurmError> {
    let mut args = vec!["--noheader".to_string(), "--format=%P %N".to_string()];
    if let Some(p) = partition {
        args.push(format!("--partition={p}"));
    }
    let text = output("sinfo", &args)?;
    let mut lists = Vec::new();
    for line in text.lines() {
        let Some((name, nodes)) = line.trim().split_once(' ') else {
            continue;
        };
        // Without --partition, the default partition is the one marked `*`.
        if partition.is_some() || name.ends_with('*') {
            lists.push(nodes.trim().to_string());
        }
    }
    let mut nodes = Vec::new();
    for list in lists {
        let text = output("scontrol", &["show".into(), "hostnames".into(), list])?;
        nodes.extend(text.split_whitespace().map(str::to_string));
    }
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_and_final_states_parse() {
        let q = parse_squeue("12_0|RUNNING\n12_1|PENDING\n13|PENDING\n");
        assert_eq!(q["12_0"], "RUNNING");
        assert_eq!(q.len(), 3);
        let e = parse_sacct("12_1|CANCELLED by 0|0:15\n12_2|COMPLETED|0:0\n", "12_1").unwrap();
        assert_eq!(e.state, "CANCELLED");
        assert!(!e.succeeded());
        assert!(parse_sacct("12_2|COMPLETED|0:0\n", "12_1").is_none());
        let e = parse_scontrol(
            "JobId=12 ArrayJobId=12 ArrayTaskId=3 JobName=kao-crop JobState=FAILED Reason=NonZeroExitCode ExitCode=2:0\n",
        )
        .unwrap();
        assert_eq!((e.state.as_str(), e.exit_code.as_str()), ("FAILED", "2:0"));
        assert!(Ended {
            state: "PENDING".into(),
            exit_code: String::new()
        }
        .is_active());
    }
}
