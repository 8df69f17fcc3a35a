//! `kao pipeline --executor slurm` on a one-node Slurm cluster this test brings up from
//! Debian's `slurm-wlm` and `munge` (daemons as root, every file in a temp dir, clients
//! pointed at it by `SLURM_CONF`): 4 shards of an lfw5 subset, one crop or embed task
//! cancelled while it runs and retried, and the outputs equal a local run's; then a run
//! whose tasks always fail ends with the failing task's log and nothing left queued.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::shards::{assert_same_outputs, kao, lfw5_subset, notes, pipeline_file};
use crate::shared;

const DAEMONS: [&str; 3] = ["munged", "slurmctld", "slurmd"];
const CLIENTS: [&str; 4] = ["sbatch", "squeue", "scancel", "scontrol"];

/// `name` on PATH or in the sbin folders where Debian puts the daemons.
fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Why the cluster cannot be brought up here, if it cannot.
fn missing() -> Option<String> {
    let absent: Vec<&str> = DAEMONS
        .iter()
        .chain(&CLIENTS)
        .copied()
        .filter(|n| find(n).is_none())
        .collect();
    if !absent.is_empty() {
        return Some(format!(
            "{} not installed (Debian packages slurm-wlm and munge; .ci/run installs them)",
            absent.join(", ")
        ));
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        });
    (uid.as_deref() != Some("0")).then(|| "the Slurm daemons must run as root".to_string())
}

/// A one-node cluster: munged, slurmctld and slurmd in the foreground, stopped on drop.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<(String, Child)>,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let dir = dir.to_path_buf();
        for d in ["spool", "state", "log"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let mut key = vec![0u8; 1024];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .unwrap();
        let key_file = dir.join("munge.key");
        std::fs::write(&key_file, key).unwrap();
        set_mode(&key_file, 0o400);
        set_mode(&dir, 0o700);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let [ctld_port, slurmd_port] = [free_port(), free_port()];
        let p = |name: &str| dir.join(name).display().to_string();
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=kaotest\n\
                 SlurmctldHost={host}(127.0.0.1)\n\
                 SlurmctldPort={ctld_port}\n\
                 SlurmdPort={slurmd_port}\n\
                 SlurmUser=root\n\
                 SlurmdUser=root\n\
                 AuthType=auth/munge\n\
                 AuthInfo=socket={socket}\n\
                 CredType=cred/munge\n\
                 StateSaveLocation={state}\n\
                 SlurmdSpoolDir={spool}\n\
                 SlurmctldPidFile={ctld_pid}\n\
                 SlurmdPidFile={slurmd_pid}\n\
                 SlurmctldLogFile={ctld_log}\n\
                 SlurmdLogFile={slurmd_log}\n\
                 # One node without cgroups.\n\
                 ProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\n\
                 JobAcctGatherType=jobacct_gather/none\n\
                 AccountingStorageType=accounting_storage/none\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_CPU\n\
                 ReturnToService=2\n\
                 MpiDefault=none\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
                 PartitionName=kao Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
                socket = p("munge.sock"),
                state = p("state"),
                spool = p("spool"),
                ctld_pid = p("slurmctld.pid"),
                slurmd_pid = p("slurmd.pid"),
                ctld_log = p("log/slurmctld.log"),
                slurmd_log = p("log/slurmd.log"),
            ),
        )
        .unwrap();
        let mut cluster = Cluster {
            dir: dir.clone(),
            conf: conf.clone(),
            daemons: Vec::new(),
        };
        let conf = conf.display().to_string();
        cluster.spawn(
            "munged",
            &[
                "--foreground",
                "--force",
                &format!("--socket={}", p("munge.sock")),
                &format!("--key-file={}", key_file.display()),
                &format!("--log-file={}", p("log/munged.log")),
                &format!("--pid-file={}", p("munged.pid")),
                &format!("--seed-file={}", p("munged.seed")),
            ],
        );
        cluster.wait_for("munged's socket", |_| dir.join("munge.sock").exists());
        cluster.spawn("slurmctld", &["-D", "-c", "-f", &conf]);
        cluster.spawn("slurmd", &["-D", "-f", &conf, "-N", &host]);
        cluster.wait_for("the node to be idle", |c| {
            c.client("sinfo", &["--noheader", "--format=%t"])
                .is_some_and(|s| s.trim() == "idle")
        });
        cluster
    }

    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.join(format!("log/{name}.out"))).unwrap();
        let child = Command::new(find(name).unwrap())
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push((name.to_string(), child));
    }

    /// A client command's stdout, `None` when it fails.
    fn client(&self, name: &str, args: &[&str]) -> Option<String> {
        let out = Command::new(find(name)?)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn wait_for(&mut self, what: &str, ready: impl Fn(&Cluster) -> bool) {
        let start = Instant::now();
        while !ready(self) {
            let exited = self
                .daemons
                .iter_mut()
                .find_map(|(name, child)| Some((name.clone(), child.try_wait().unwrap()?)));
            if let Some((name, status)) = exited {
                panic!("{name} exited ({status}) {}", self.logs());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what} {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The daemons' logs, for a failure message.
    fn logs(&self) -> String {
        let mut text = String::new();
        for name in [
            "munged.log",
            "slurmctld.log",
            "slurmd.log",
            "munged.out",
            "slurmctld.out",
            "slurmd.out",
        ] {
            if let Ok(t) = std::fs::read_to_string(self.dir.join("log").join(name)) {
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                text.push_str(&format!("\n--- {name}\n"));
                for l in tail.into_iter().rev() {
                    text.push_str(l);
                    text.push('\n');
                }
            }
        }
        text
    }
}

impl Drop for Cluster {
    /// Stops the daemons, last started first: SIGTERM, then SIGKILL after 10 s.
    fn drop(&mut self) {
        while let Some((_, mut child)) = self.daemons.pop() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a shard has appended records of its own (its part files are non-empty).
fn has_written(shard: &Path) -> bool {
    let mut stack = vec![shard.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl")
                && p.metadata().is_ok_and(|m| m.len() > 0)
            {
                return true;
            }
        }
    }
    false
}

#[test]
fn slurm_executor_runs_the_shards_retries_a_cancelled_task_and_equals_a_local_run() {
    if let Some(why) = missing() {
        if std::env::var_os("CI").is_some() {
            panic!("the Slurm test cannot run under CI: {why}");
        }
        eprintln!("skipping the Slurm test: {why}");
        return;
    }
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    lfw5_subset(&shared.join("datasets/lfw5"), &photos);
    let config = pipeline_file(
        dir.path(),
        "[slurm]\nshards = 4\ncpus_per_task = 1\npoll = \"1s\"\n",
    );
    let common = [
        "--config",
        config.to_str().unwrap(),
        "--source-dir",
        photos.to_str().unwrap(),
    ];

    let local = dir.path().join("local");
    kao(&local, &[&["pipeline"], &common[..]].concat());

    let cluster = Cluster::start(&dir.path().join("cluster"));
    let work = dir.path().join("slurm");
    let (out, err) = (dir.path().join("kao.out"), dir.path().join("kao.err"));
    let mut run = Command::new(env!("CARGO_BIN_EXE_kao"))
        .arg("--work")
        .arg(&work)
        .args(["pipeline", "--executor", "slurm", "--json"])
        .args(common)
        .env("SLURM_CONF", &cluster.conf)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();

    // Cancel one crop or embed array task while it runs: the run must resubmit it, and
    // the new task resume from the shard's records.
    let mut cancelled: Option<String> = None;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the Slurm run took over 10 minutes {}",
            cluster.logs()
        );
        if cancelled.is_none() {
            let queue = cluster
                .client("squeue", &["--noheader", "--array", "--format=%i %j %T"])
                .unwrap_or_default();
            for line in queue.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (Some(id), Some(name), Some("RUNNING")) =
                    (f.first(), f.get(1), f.get(2).copied())
                else {
                    continue;
                };
                let stage = match *name {
                    "kao-crop" => "crop",
                    "kao-embed" => "augment",
                    _ => continue,
                };
                let Some((_, task)) = id.split_once('_') else {
                    continue;
                };
                // A crop task once it has written records of its own (the retry must
                // resume from them); failing that, an embed task as soon as it runs, so
                // that a fast machine still has a task to cancel.
                let written = has_written(&work.join(format!("shards/{stage}/{task}-of-4")));
                if (written || stage == "augment") && cluster.client("scancel", &[id]).is_some() {
                    cancelled = Some(id.to_string());
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::fs::File::open(&err)
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "kao pipeline --executor slurm: {stderr}");
    let cancelled = cancelled.expect("no crop or embed task was caught running to cancel");
    assert!(
        stderr.contains(&format!(
            "(job {cancelled}) ended CANCELLED; resubmitted as job"
        )),
        "task {cancelled} was not reported resubmitted: {stderr}"
    );
    let report = std::fs::read_to_string(&out).unwrap();
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    for row in v["stages"].as_array().unwrap() {
        assert_eq!(row["status"], "ran", "every stage ran in this run: {row}");
    }
    let notes = notes(&report);
    assert!(notes["collect"].starts_with("5 shards"), "{notes:?}");
    assert!(notes["crop"].starts_with("4 shards"), "{notes:?}");
    assert!(notes["augment"].starts_with("4 shards"), "{notes:?}");
    assert_same_outputs(&local, &work);

    // A task that fails again after its retry ends the run, naming its log; the jobs
    // waiting for it are cancelled.
    let failing = dir.path().join("failing");
    std::fs::create_dir(&failing).unwrap();
    let config = pipeline_file(
        &failing,
        "[slurm]\nshards = 2\npoll = \"1s\"\nkao = \"/bin/false\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kao"))
        .arg("--work")
        .arg(failing.join("work"))
        .args(["--quiet", "pipeline", "--executor", "slurm", "--config"])
        .arg(&config)
        .arg("--source-dir")
        .arg(&photos)
        .env("SLURM_CONF", &cluster.conf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("ended FAILED twice"), "{stderr}");
    let log = stderr
        .split("see its log ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no log named: {stderr}"));
    assert!(Path::new(log).is_file(), "{log} {stderr}");
    // (Cancelled tasks that were running may show as completing for a moment.)
    let start = Instant::now();
    loop {
        let queue = cluster
            .client("squeue", &["--noheader", "--format=%i %T"])
            .unwrap();
        if queue.trim().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "jobs left queued: {queue}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(cluster);
}
