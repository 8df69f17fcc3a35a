use std::process::Command;

use anyhow::{bail, Context};

/// The checks of `.ci/run`, in the same order and with the same arguments.
pub const STEPS: &[&[&str]] = &[
    &["fmt", "--all", "--check"],
    &[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ],
    &["test", "--workspace", "--locked", "--no-fail-fast"],
];

pub fn run() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for step in STEPS {
        eprintln!("+ cargo {}", step.join(" "));
        let status = Command::new(&cargo)
            .args(*step)
            .status()
            .with_context(|| format!("cannot start cargo {}", step.join(" ")))?;
        if !status.success() {
            bail!("cargo {} failed ({status})", step.join(" "));
        }
    }
    Ok(())
}
