//! Custom Vision's classification metrics: per-tag precision and recall at a probability
//! threshold, average precision (area under the precision-recall curve), their means over
//! tags, plus top-1 accuracy and the confusion matrix.

use serde::{Deserialize, Serialize};

/// One tag's numbers, named as Custom Vision's `perTagPerformance` entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagPerformance {
    pub id: String,
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub average_precision: f64,
    /// Faces of this tag in the split.
    pub count: usize,
}

/// Metrics of one split at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub threshold: f64,
    /// Means over the tags that have faces in the split.
    pub precision: f64,
    pub recall: f64,
    pub average_precision: f64,
    pub per_tag_performance: Vec<TagPerformance>,
    /// Share of faces whose most probable tag is the true one.
    pub top1: f64,
    pub faces: usize,
    /// `confusion[true][predicted]` by top-1, tags in `perTagPerformance` order.
    pub confusion: Vec<Vec<usize>>,
    /// Per tag, the precision-recall curve as `[recall, precision]` points by descending
    /// probability (for the report's charts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curves: Vec<Vec<[f64; 2]>>,
}

/// `probabilities[i][c]` for face `i`, true tag `labels[i]`, tags `(id, name)`.
pub fn compute(
    probabilities: &[Vec<f32>],
    labels: &[usize],
    tags: &[(String, String)],
    threshold: f64,
) -> Metrics {
    let n_tags = tags.len();
    let mut per_tag = Vec::with_capacity(n_tags);
    let mut curves = Vec::with_capacity(n_tags);
    for (c, (id, name)) in tags.iter().enumerate() {
        let scores: Vec<(f64, bool)> = probabilities
            .iter()
            .zip(labels)
            .map(|(p, &l)| (p[c] as f64, l == c))
            .collect();
        let count = scores.iter().filter(|s| s.1).count();
        let predicted = scores.iter().filter(|s| s.0 >= threshold).count();
        let tp = scores.iter().filter(|s| s.1 && s.0 >= threshold).count();
        let (ap, curve) = average_precision(&scores);
        per_tag.push(TagPerformance {
            id: id.clone(),
            name: name.clone(),
            precision: ratio(tp, predicted),
            recall: ratio(tp, count),
            average_precision: ap,
            count,
        });
        curves.push(curve);
    }
    let present: Vec<&TagPerformance> = per_tag.iter().filter(|t| t.count > 0).collect();
    let mean = |f: fn(&TagPerformance) -> f64| {
        if present.is_empty() {
            0.0
        } else {
            present.iter().map(|t| f(t)).sum::<f64>() / present.len() as f64
        }
    };
    let mut confusion = vec![vec![0usize; n_tags]; n_tags];
    let mut correct = 0;
    for (p, &l) in probabilities.iter().zip(labels) {
        let top = argmax(p);
        confusion[l][top] += 1;
        correct += usize::from(top == l);
    }
    Metrics {
        threshold,
        precision: mean(|t| t.precision),
        recall: mean(|t| t.recall),
        average_precision: mean(|t| t.average_precision),
        top1: ratio(correct, labels.len()),
        faces: labels.len(),
        per_tag_performance: per_tag,
        confusion,
        curves,
    }
}

/// `a / b`, 0 when `b` is 0 (no predictions: nothing right either).
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

pub fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// Non-interpolated AP: `Σ (R_k − R_{k−1}) · P_k` over the distinct scores, highest first
/// (faces with equal scores enter together), and the curve's points.
pub fn average_precision(scores: &[(f64, bool)]) -> (f64, Vec<[f64; 2]>) {
    let positives = scores.iter().filter(|s| s.1).count();
    if positives == 0 {
        return (0.0, Vec::new());
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut curve = vec![[0.0, 1.0]];
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            tp += usize::from(sorted[j].1);
            seen += 1;
            j += 1;
        }
        let recall = tp as f64 / positives as f64;
        let precision = tp as f64 / seen as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
        curve.push([recall, precision]);
        i = j;
    }
    (ap, curve)
}

/// The open-set trade-off of a distance rule (`rejected = distance > radius`): one
/// `[share of known rejected, share of unknown rejected]` point per distinct radius, from
/// the largest distance (nothing finite rejected) down to below the smallest (everything
/// rejected). Infinite distances count as rejected at every radius (the head called the
/// face Negative).
pub fn rejection_curve(known: &[f32], unknown: &[f32]) -> Vec<[f64; 2]> {
    let (nk, nu) = (known.len().max(1) as f64, unknown.len().max(1) as f64);
    let mut all: Vec<(f32, bool)> = known
        .iter()
        .map(|&d| (d, true))
        .chain(unknown.iter().map(|&d| (d, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut i = all.iter().take_while(|(d, _)| d.is_infinite()).count();
    let count = |s: &[(f32, bool)]| {
        let k = s.iter().filter(|(_, known)| *known).count();
        (k, s.len() - k)
    };
    let (mut k, mut u) = count(&all[..i]);
    let mut curve = vec![[k as f64 / nk, u as f64 / nu]];
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let (dk, du) = count(&all[i..j]);
        k += dk;
        u += du;
        curve.push([k as f64 / nk, u as f64 / nu]);
        i = j;
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> Vec<(String, String)> {
        vec![("a".into(), "alice".into()), ("b".into(), "bob".into())]
    }

    /// Six faces, worked out by hand.
    ///
    /// | face | true | p(alice) | p(bob) |
    /// |---|---|---|---|
    /// | 0 | alice | 0.9 | 0.1 |
    /// | 1 | alice | 0.6 | 0.4 |
    /// | 2 | alice | 0.3 | 0.7 |
    /// | 3 | bob   | 0.8 | 0.2 |
    /// | 4 | bob   | 0.2 | 0.8 |
    /// | 5 | bob   | 0.4 | 0.6 |
    ///
    /// At 0.5, alice: predicted {0,1,3}, TP {0,1} → P 2/3, R 2/3. Ranked 0.9 T, 0.8 F,
    /// 0.6 T, 0.4 F, 0.3 T, 0.2 F → AP = 1/3·1 + 1/3·2/3 + 1/3·3/5 = 0.7555…
    /// bob: predicted {2,4,5}, TP {4,5} → P 2/3, R 2/3. Ranked 0.8 T, 0.7 F, 0.6 T, 0.4 F,
    /// 0.2 T, 0.1 F → AP = 1/3·1 + 1/3·2/3 + 1/3·3/5 = 0.7555… as well.
    /// Top-1: 0 ✓ 1 ✓ 2 ✗ 3 ✗ 4 ✓ 5 ✓ → 4/6.
    #[test]
    fn matches_hand_computed_values() {
        let p = vec![
            vec![0.9, 0.1],
            vec![0.6, 0.4],
            vec![0.3, 0.7],
            vec![0.8, 0.2],
            vec![0.2, 0.8],
            vec![0.4, 0.6],
        ];
        let labels = [0, 0, 0, 1, 1, 1];
        let m = compute(&p, &labels, &tags(), 0.5);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        close(m.per_tag_performance[0].precision, 2.0 / 3.0);
        close(m.per_tag_performance[0].recall, 2.0 / 3.0);
        close(
            m.per_tag_performance[0].average_precision,
            (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0,
        );
        close(
            m.per_tag_performance[1].average_precision,
            (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0,
        );
        close(m.precision, 2.0 / 3.0);
        close(m.average_precision, (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0);
        close(m.top1, 4.0 / 6.0);
        assert_eq!(m.confusion, vec![vec![2, 1], vec![1, 2]]);
    }

    #[test]
    fn threshold_moves_precision_and_recall() {
        let p = vec![vec![0.9, 0.1], vec![0.6, 0.4], vec![0.2, 0.8]];
        let m = compute(&p, &[0, 0, 1], &tags(), 0.7);
        // alice: only 0.9 passes → P 1, R 1/2; bob: only 0.8 passes → P 1, R 1.
        assert_eq!(m.per_tag_performance[0].precision, 1.0);
        assert_eq!(m.per_tag_performance[0].recall, 0.5);
        assert_eq!(m.per_tag_performance[1].recall, 1.0);
        assert_eq!(m.recall, 0.75);
    }

    #[test]
    fn rejection_curve_by_hand() {
        // Known 0.2, 0.4; unknown 0.4, 0.8, Negative (∞). Radius ≥ 0.8: the ∞ one only;
        // below 0.8: + 0.8; below 0.4: + both 0.4s; below 0.2: everything.
        let c = rejection_curve(&[0.2, 0.4], &[0.4, 0.8, f32::INFINITY]);
        let third = 1.0 / 3.0;
        assert_eq!(
            c,
            vec![[0.0, third], [0.0, 2.0 * third], [0.5, 1.0], [1.0, 1.0]]
        );
    }

    #[test]
    fn tied_scores_enter_together() {
        // Two faces at 0.5, one right one wrong: the step is precision 1/2 for recall 1.
        let (ap, _) = average_precision(&[(0.5, true), (0.5, false)]);
        assert_eq!(ap, 0.5);
    }
}
