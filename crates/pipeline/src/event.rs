use crate::report::StageReport;
use crate::stage::Stage;

/// What a run reports while it goes, for progress bars and logs. The callback is called
/// from worker threads and must be quick.
#[derive(Debug, Clone)]
pub enum Event {
    /// The stage starts running (an unchanged or excluded stage gets only `Finished`).
    Started {
        stage: Stage,
    },
    /// `done` of `total` units of the stage's current phase (`phase` names the units).
    Progress {
        stage: Stage,
        phase: &'static str,
        done: u64,
        total: u64,
    },
    /// Something the user should know that did not stop the stage.
    Warning {
        stage: Stage,
        message: String,
    },
    Finished {
        report: StageReport,
    },
}

/// The event callback's type.
pub type Events<'a> = &'a (dyn Fn(Event) + Send + Sync);
