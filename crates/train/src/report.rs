//! `report.html`: one self-contained page (inline CSS and SVG, thumbnails as data URLs).

use std::fmt::Write;

use base64::Engine;
use kao_dataset::WorkDir;
use kao_infer::ModelArtifact;

use crate::evaluate::Evaluation;

const COLOURS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The page for an iteration; `evaluations` in display order (validation, then test).
/// The last one's curves, confusion matrix and mistakes are drawn.
pub fn write_report(
    work: &WorkDir,
    artifact: &ModelArtifact,
    evaluations: &[&Evaluation],
) -> String {
    let mut h = String::new();
    let title = format!("Kao iteration {}", artifact.iteration);
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>\
body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th{{background:#f4f4f4}}td:first-child,th:first-child{{text-align:left}}\
.faces{{display:flex;flex-wrap:wrap;gap:8px}}.face{{width:120px;font-size:12px}}.face img{{width:120px;height:120px}}\
</style></head><body><h1>{title}</h1>"
    );
    let _ = write!(
        h,
        "<p>Head <b>{}</b>, seed {}, created {}. Probability threshold {}. Unknown rule: top probability &lt; {} or distance &gt; {:.3} ({}).</p>",
        artifact.head.kind.name(),
        artifact.seed,
        esc(&artifact.created_at),
        artifact.threshold,
        artifact.unknown.min_probability,
        artifact.unknown.max_distance,
        esc(&artifact.unknown.calibration),
    );
    h.push_str("<h2>Summary</h2><table><tr><th>split</th><th>faces</th><th>top-1</th><th>precision</th><th>recall</th><th>mean AP</th><th>unknown rejected</th><th>known rejected</th></tr>");
    for e in evaluations {
        let m = &e.metrics;
        let (rej, frej) = match &e.unknown {
            Some(u) => (
                format!("{} of {}", pct(u.rejected), u.faces),
                pct(u.false_rejected),
            ),
            None => ("–".into(), "–".into()),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{rej}</td><td>{frej}</td></tr>",
            esc(&e.split),
            m.faces,
            pct(m.top1),
            pct(m.precision),
            pct(m.recall),
            pct(m.average_precision)
        );
    }
    h.push_str("</table>");
    for e in evaluations {
        let _ = write!(h, "<h2>Per tag ({})</h2><table><tr><th>tag</th><th>faces</th><th>precision</th><th>recall</th><th>AP</th></tr>", esc(&e.split));
        for t in &e.metrics.per_tag_performance {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.name),
                t.count,
                pct(t.precision),
                pct(t.recall),
                pct(t.average_precision)
            );
        }
        h.push_str("</table>");
    }
    if let Some(e) = evaluations.last() {
        let _ = write!(h, "<h2>Precision-recall ({})</h2>", esc(&e.split));
        h.push_str(&pr_svg(e));
        let _ = write!(h, "<h2>Confusion matrix ({})</h2>", esc(&e.split));
        h.push_str(&confusion_svg(e));
        let _ = write!(
            h,
            "<h2>Misclassified ({}): {}</h2><div class=\"faces\">",
            esc(&e.split),
            e.misclassified.len()
        );
        for m in &e.misclassified {
            let img = std::fs::read(work.faces().join(&m.chip))
                .map(|b| {
                    format!(
                        "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                        esc(&m.chip),
                        base64::engine::general_purpose::STANDARD.encode(b)
                    )
                })
                .unwrap_or_else(|_| format!("<i>{} missing</i>", esc(&m.chip)));
            let _ = write!(
                h,
                "<div class=\"face\">{img}<br>true <b>{}</b><br>predicted <b>{}</b> {:.2}</div>",
                esc(&m.true_tag),
                esc(&m.predicted_tag),
                m.probability
            );
        }
        h.push_str("</div>");
    }
    h.push_str("</body></html>\n");
    h
}

/// One precision-recall step curve per tag on a 300×300 plot.
fn pr_svg(e: &Evaluation) -> String {
    let (w, pad) = (300.0, 40.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-size=\"11\">",
        w + pad * 2.0 + 160.0,
        w + pad * 2.0
    );
    let _ = write!(
        s,
        "<rect x=\"{pad}\" y=\"{pad}\" width=\"{w}\" height=\"{w}\" fill=\"none\" stroke=\"#999\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">recall</text>\
<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">precision</text>",
        pad + w / 2.0,
        pad * 2.0 + w - 8.0,
        pad + w / 2.0,
        pad + w / 2.0
    );
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{v}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v}</text>",
            pad + v * w,
            pad + w + 14.0,
            pad - 4.0,
            pad + (1.0 - v) * w + 4.0
        );
    }
    for (i, (curve, tag)) in e
        .metrics
        .curves
        .iter()
        .zip(&e.metrics.per_tag_performance)
        .enumerate()
    {
        let colour = COLOURS[i % COLOURS.len()];
        // Step curve: precision holds until recall moves on.
        let mut points = String::new();
        let mut last: Option<[f64; 2]> = None;
        for p in curve {
            if let Some(l) = last {
                let _ = write!(
                    points,
                    "{:.1},{:.1} ",
                    pad + p[0] * w,
                    pad + (1.0 - l[1]) * w
                );
            }
            let _ = write!(
                points,
                "{:.1},{:.1} ",
                pad + p[0] * w,
                pad + (1.0 - p[1]) * w
            );
            last = Some(*p);
        }
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{points}\"/>\
<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{} (AP {:.3})</text>",
            pad * 2.0 + w,
            pad + i as f64 * 16.0,
            pad * 2.0 + w + 14.0,
            pad + i as f64 * 16.0 + 9.0,
            esc(&tag.name),
            tag.average_precision
        );
    }
    s.push_str("</svg>");
    s
}

/// Rows: true tag; columns: top-1 tag; cell shade by share of the row.
fn confusion_svg(e: &Evaluation) -> String {
    let names: Vec<&str> = e
        .metrics
        .per_tag_performance
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let n = names.len();
    let (cell, left, top) = (44.0, 150.0, 150.0);
    let size = |k: usize| k as f64 * cell;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-size=\"11\">",
        left + size(n) + 10.0,
        top + size(n) + 10.0
    );
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
<text x=\"{x}\" y=\"{y}\" transform=\"rotate(-60 {x} {y})\">{}</text>",
            left - 6.0,
            top + size(i) + cell / 2.0 + 4.0,
            esc(name),
            esc(name),
            x = left + size(i) + cell / 2.0,
            y = top - 6.0,
        );
    }
    for (r, row) in e.metrics.confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (c, &v) in row.iter().enumerate() {
            let share = v as f64 / total.max(1) as f64;
            let shade = (255.0 - share * 200.0) as u8;
            let fill = if r == c {
                format!("rgb({shade},{},{shade})", 255)
            } else {
                format!("rgb(255,{shade},{shade})")
            };
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#ccc\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{v}</text>",
                left + size(c),
                top + size(r),
                left + size(c) + cell / 2.0,
                top + size(r) + cell / 2.0 + 4.0
            );
        }
    }
    s.push_str("</svg>");
    s
}
