//! publish: the iteration under the configured name, for `kao serve`.

use serde::{Deserialize, Serialize};

use super::train::Trained;
use super::Ctx;
use crate::error::{PipelineError, Result};
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;
use crate::state::PipelineState;

const STAGE: Stage = Stage::Publish;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    pub iteration: u32,
    pub name: String,
    pub project_id: String,
}

pub fn fingerprint(ctx: &Ctx, evaluate: &str, trained: Option<&Trained>) -> String {
    let mut f = Fingerprint::new(STAGE.name());
    f.text(evaluate)
        .json(&trained.map(|t| t.iteration))
        .text(&ctx.config.publish_name());
    f.finish()
}

pub fn recorded(state: &PipelineState) -> Option<Published> {
    serde_json::from_value(state.output(STAGE)?.clone()).ok()
}

/// Published under the name, to the recorded iteration, still.
pub fn outputs_exist(ctx: &Ctx) -> bool {
    let Some(p) = recorded(ctx.state) else {
        return false;
    };
    kao_infer::read_published(&ctx.work)
        .map(|all| {
            all.iter()
                .any(|e| e.name == p.name && e.iteration == p.iteration)
        })
        .unwrap_or(false)
}

pub fn run(ctx: &Ctx, trained: Option<&Trained>) -> Result<(StageReport, serde_json::Value)> {
    let trained = trained.ok_or_else(|| {
        PipelineError::input(STAGE, "no trained iteration: run the train stage first")
    })?;
    let name = ctx.config.publish_name();
    kao_infer::publish(&ctx.work, trained.iteration, &name).map_err(PipelineError::stage(STAGE))?;
    let project_id = kao_infer::project_id(&ctx.work).map_err(PipelineError::stage(STAGE))?;
    let mut report = StageReport::new(STAGE);
    report.items_in = 1;
    report.items_out = 1;
    report.note = format!("iteration {} as {name:?}", trained.iteration);
    let published = Published {
        iteration: trained.iteration,
        name,
        project_id,
    };
    Ok((report, serde_json::to_value(published).expect("serialises")))
}
