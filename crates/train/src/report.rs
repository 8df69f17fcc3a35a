//! `report.html`: one self-contained page (inline CSS and SVG, thumbnails as data URLs).
//! The page is an askama template (`templates/report.html`, escaped by the engine); the
//! charts are plotters' SVG; the confusion matrix is an HTML table.

use askama::Template;
use base64::Engine;
use kao_dataset::WorkDir;
use kao_infer::{ModelArtifact, UnknownRule};
use plotters::prelude::*;

use crate::calibrate::Calibration;
use crate::evaluate::Evaluation;

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

struct SummaryRow {
    split: String,
    faces: usize,
    top1: String,
    precision: String,
    recall: String,
    average_precision: String,
    known_rejected: String,
    unknown_rejected: String,
}

struct TagRow {
    name: String,
    count: usize,
    precision: String,
    recall: String,
    average_precision: String,
}

struct Cell {
    value: usize,
    style: String,
}

struct Face {
    /// `data:` URL of the chip, when it could be read.
    src: Option<String>,
    chip: String,
    true_tag: String,
    predicted: String,
    probability: String,
    distance: Option<String>,
}

/// The charts, matrix and mistakes of the last evaluation.
struct Detail {
    split: String,
    pr_chart: String,
    open_set_chart: String,
    tags: Vec<String>,
    confusion: Vec<(String, Vec<Cell>)>,
    faces: Vec<Face>,
    rejected: usize,
    wrong_tag: usize,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page {
    title: String,
    head: String,
    seed: u64,
    created: String,
    threshold: f32,
    rule: String,
    calibration: Option<String>,
    summary: Vec<SummaryRow>,
    per_tag: Vec<(String, Vec<TagRow>)>,
    detail: Option<Detail>,
}

/// The unknown rule in words, as the report and `kao train` state it.
pub fn describe_rule(r: &UnknownRule) -> String {
    let mut s = format!(
        "a face is unknown when it lies farther than {:.3} ({} distance) from every training face of the tag the head picked",
        r.max_distance,
        r.space.name()
    );
    if r.min_probability > 0.0 {
        s += &format!(
            ", or the head's top probability is below {}",
            r.min_probability
        );
    }
    match r.target_false_reject {
        Some(t) => s += &format!("; calibrated to reject at most {} of known faces", pct(t)),
        None => s += &format!(" ({})", r.calibration),
    }
    s
}

/// The page for an iteration; `evaluations` in display order (validation, then test).
/// The last one's charts, confusion matrix and mistakes are drawn; `calibration` adds the
/// unknown rule's calibration rates and curve.
pub fn write_report(
    work: &WorkDir,
    artifact: &ModelArtifact,
    evaluations: &[&Evaluation],
    calibration: Option<&Calibration>,
) -> String {
    let calibration = calibration.filter(|c| c.known_faces > 0);
    let summary = evaluations
        .iter()
        .map(|e| {
            let m = &e.metrics;
            let op = &e.operating_point;
            SummaryRow {
                split: e.split.clone(),
                faces: m.faces,
                top1: pct(m.top1),
                precision: pct(m.precision),
                recall: pct(m.recall),
                average_precision: pct(m.average_precision),
                known_rejected: format!("{} ({})", op.known_rejected, pct(op.false_rejected)),
                unknown_rejected: e.unknown.as_ref().map_or("–".into(), |u| {
                    format!("{} of {} ({})", pct(u.rejected), u.faces, u.source)
                }),
            }
        })
        .collect();
    let per_tag = evaluations
        .iter()
        .map(|e| {
            let rows = e
                .metrics
                .per_tag_performance
                .iter()
                .map(|t| TagRow {
                    name: t.name.clone(),
                    count: t.count,
                    precision: pct(t.precision),
                    recall: pct(t.recall),
                    average_precision: pct(t.average_precision),
                })
                .collect();
            (e.split.clone(), rows)
        })
        .collect();
    let page = Page {
        title: format!("Kao iteration {}", artifact.iteration),
        head: artifact.head.kind.name().to_string(),
        seed: artifact.seed,
        created: artifact.created_at.clone(),
        threshold: artifact.threshold,
        rule: describe_rule(&artifact.unknown),
        calibration: calibration.map(|c| {
            format!(
                "On the calibration faces the rule rejects {} of {} known faces (validation, and each training face with itself left out) and {} of {} faces of other people (each tag's faces scored as if the tag did not exist).",
                pct(c.known_rejected),
                c.known_faces,
                pct(c.unknown_rejected),
                c.unknown_faces
            )
        }),
        summary,
        per_tag,
        detail: evaluations
            .last()
            .map(|e| detail(work, artifact, e, calibration)),
    };
    page.render()
        .unwrap_or_else(|e| format!("<!doctype html><p>cannot render the report: {e}</p>\n"))
}

fn detail(
    work: &WorkDir,
    artifact: &ModelArtifact,
    e: &Evaluation,
    calibration: Option<&Calibration>,
) -> Detail {
    let tags: Vec<String> = e
        .metrics
        .per_tag_performance
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let confusion = e
        .metrics
        .confusion
        .iter()
        .zip(&tags)
        .enumerate()
        .map(|(r, (row, name))| {
            let total: usize = row.iter().sum();
            let cells = row
                .iter()
                .enumerate()
                .map(|(c, &v)| {
                    let shade = (255.0 - v as f64 / total.max(1) as f64 * 200.0) as u8;
                    let style = if v == 0 {
                        String::new()
                    } else if r == c {
                        format!("background:rgb({shade},255,{shade})")
                    } else {
                        format!("background:rgb(255,{shade},{shade})")
                    };
                    Cell { value: v, style }
                })
                .collect();
            (name.clone(), cells)
        })
        .collect();
    let faces: Vec<Face> = e
        .misclassified
        .iter()
        .map(|m| Face {
            src: std::fs::read(work.faces().join(&m.chip)).ok().map(|b| {
                format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            }),
            chip: m.chip.clone(),
            true_tag: m.true_tag.clone(),
            predicted: m.predicted_tag.clone(),
            probability: format!("{:.2}", m.probability),
            distance: m.distance.map(|d| format!("{d:.3}")),
        })
        .collect();
    let rejected = e
        .misclassified
        .iter()
        .filter(|m| m.predicted_tag == "unknown")
        .count();
    Detail {
        split: e.split.clone(),
        pr_chart: chart(|root| pr_chart(root, e)),
        open_set_chart: chart(|root| open_set_chart(root, artifact, e, calibration)),
        tags,
        confusion,
        rejected,
        wrong_tag: faces.len() - rejected,
        faces,
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// An SVG chart as a string; a drawing error (none is expected with an in-memory
/// backend) becomes a sentence in its place.
fn chart(draw: impl FnOnce(&Area) -> DrawResult) -> String {
    let mut svg = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut svg, (560, 400)).into_drawing_area();
        draw(&root).and_then(|()| Ok(root.present()?))
    };
    match result {
        Ok(()) => svg,
        Err(e) => format!("(chart not drawn: {e})")
            .replace('&', "&amp;")
            .replace('<', "&lt;"),
    }
}

/// One precision-recall step curve per tag.
fn pr_chart(root: &Area, e: &Evaluation) -> DrawResult {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
    chart
        .configure_mesh()
        .x_desc("recall")
        .y_desc("precision")
        .light_line_style(WHITE)
        .draw()?;
    for (i, (curve, tag)) in e
        .metrics
        .curves
        .iter()
        .zip(&e.metrics.per_tag_performance)
        .enumerate()
    {
        let colour = Palette99::pick(i).to_rgba();
        // Step curve: precision holds until recall moves on.
        let mut points = Vec::with_capacity(curve.len() * 2);
        for (j, p) in curve.iter().enumerate() {
            if j > 0 {
                points.push((p[0], curve[j - 1][1]));
            }
            points.push((p[0], p[1]));
        }
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(format!("{} (AP {:.3})", tag.name, tag.average_precision))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// One open-set curve of the chart, with its operating point.
struct Curve<'a> {
    name: String,
    points: &'a [[f64; 2]],
    operating: (f64, f64),
    colour: RGBAColor,
}

/// Unknown faces rejected against known faces rejected as the radius shrinks: the
/// split's known faces against the unknown set (when there is one), and the calibration
/// populations; the operating point marked on each.
fn open_set_chart(
    root: &Area,
    artifact: &ModelArtifact,
    e: &Evaluation,
    calibration: Option<&Calibration>,
) -> DrawResult {
    root.fill(&WHITE)?;
    let target = artifact.unknown.target_false_reject.unwrap_or(0.01);
    let x_max = (4.0 * target).clamp(0.05, 1.0);
    let mut curves: Vec<Curve> = Vec::new();
    if let Some(u) = &e.unknown {
        curves.push(Curve {
            name: format!("{} known vs {}", e.split, u.source),
            points: &u.curve,
            operating: (e.operating_point.false_rejected, u.rejected),
            colour: BLUE.to_rgba(),
        });
    }
    if let Some(c) = calibration {
        curves.push(Curve {
            name: "calibration (leave-one-out vs leave-one-identity-out)".into(),
            points: &c.curve,
            operating: (c.known_rejected, c.unknown_rejected),
            colour: RGBColor(230, 120, 0).to_rgba(),
        });
    }
    // The interesting part is near the target: start the y axis a round step below the
    // lowest of the curves' heights at half the target (each curve climbs from 0 at the
    // largest radius, which would otherwise flatten the rest).
    let low = curves
        .iter()
        .map(|c| {
            c.points
                .iter()
                .filter(|p| p[0] <= target / 2.0)
                .map(|p| p[1])
                .fold(0.0f64, f64::max)
        })
        .fold(1.0f64, f64::min);
    let y_min = ((low - 0.05) * 10.0).floor().clamp(0.0, 9.0) / 10.0;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0f64..x_max, y_min..1.005f64)?;
    chart
        .configure_mesh()
        .x_desc("known faces rejected")
        .y_desc("unknown faces rejected")
        .x_label_formatter(&|v| format!("{:.1}%", v * 100.0))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .light_line_style(WHITE)
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(target, y_min), (target, 1.005)],
            BLACK.mix(0.4).stroke_width(1),
        ))?
        .label(format!("target {}", pct(target)))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.mix(0.4)));
    for Curve {
        name,
        points: curve,
        operating: point,
        colour,
    } in curves
    {
        // Stairs: a radius rejects known faces first or unknown faces first, never both
        // at once, unless they tie.
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(curve.len() * 2);
        for (j, p) in curve.iter().enumerate() {
            if j > 0 {
                points.push((p[0], curve[j - 1][1]));
            }
            points.push((p[0], p[1]));
        }
        let points: Vec<(f64, f64)> = points.into_iter().filter(|p| p.0 <= x_max).collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(format!(
                "{name}: {} known, {} unknown rejected",
                pct(point.0),
                pct(point.1)
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour));
        if point.0 <= x_max {
            chart.draw_series(std::iter::once(Circle::new(point, 5, colour.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
