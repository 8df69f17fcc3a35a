//! Prometheus text exposition (format 0.0.4), written by hand: a few counters and
//! histograms do not justify a metrics crate.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const FACE_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        // Stored per bucket, made cumulative when written.
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    faces: Histogram,
    iterations: BTreeMap<String, u32>,
    reloads: u64,
    reload_failures: u64,
}

/// The server's counters, shared by every request.
#[derive(Debug)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            inner: Mutex::new(Inner {
                requests: BTreeMap::new(),
                latency: BTreeMap::new(),
                faces: Histogram::new(FACE_BUCKETS),
                iterations: BTreeMap::new(),
                reloads: 0,
                reload_failures: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only counters behind; keep counting.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut m = self.lock();
        *m.requests.entry((route.to_string(), status)).or_default() += 1;
        m.latency
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    pub fn faces(&self, n: usize) {
        self.lock().faces.observe(n as f64);
    }

    pub fn published(&self, names: impl IntoIterator<Item = (String, u32)>) {
        let mut m = self.lock();
        m.iterations = names.into_iter().collect();
        m.reloads += 1;
    }

    pub fn reload_failed(&self) {
        self.lock().reload_failures += 1;
    }

    pub fn render(&self, inflight: usize, queued: usize) -> String {
        let m = self.lock();
        let mut out = String::new();
        out.push_str("# HELP kao_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE kao_requests_total counter\n");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "kao_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP kao_request_duration_seconds Time from request to response.\n");
        out.push_str("# TYPE kao_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let labels = format!("route=\"{}\"", escape(route));
            h.write(&mut out, "kao_request_duration_seconds", &labels);
        }
        out.push_str("# HELP kao_faces_per_image Faces found in each predicted image.\n");
        out.push_str("# TYPE kao_faces_per_image histogram\n");
        m.faces.write(&mut out, "kao_faces_per_image", "");
        out.push_str("# HELP kao_model_iteration Iteration served under each published name.\n");
        out.push_str("# TYPE kao_model_iteration gauge\n");
        for (name, it) in &m.iterations {
            let _ = writeln!(out, "kao_model_iteration{{name=\"{}\"}} {it}", escape(name));
        }
        out.push_str(
            "# HELP kao_model_reloads_total Loads of published.json that were swapped in.\n",
        );
        out.push_str("# TYPE kao_model_reloads_total counter\n");
        let _ = writeln!(out, "kao_model_reloads_total {}", m.reloads);
        out.push_str("# HELP kao_model_reload_failures_total Loads that failed; the old models kept serving.\n");
        out.push_str("# TYPE kao_model_reload_failures_total counter\n");
        let _ = writeln!(out, "kao_model_reload_failures_total {}", m.reload_failures);
        out.push_str("# HELP kao_inferences_running Inferences on the blocking pool now.\n");
        out.push_str("# TYPE kao_inferences_running gauge\n");
        let _ = writeln!(out, "kao_inferences_running {inflight}");
        out.push_str("# HELP kao_inferences_queued Requests waiting for an inference slot.\n");
        out.push_str("# TYPE kao_inferences_queued gauge\n");
        let _ = writeln!(out, "kao_inferences_queued {queued}");
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_everything() {
        let m = Metrics::new();
        m.request("/a", 200, Duration::from_millis(3));
        m.request("/a", 200, Duration::from_millis(30));
        m.request("/a", 401, Duration::from_secs(60));
        m.faces(0);
        m.faces(2);
        let text = m.render(1, 0);
        assert!(text.contains("kao_requests_total{route=\"/a\",status=\"200\"} 2\n"));
        assert!(text.contains("kao_requests_total{route=\"/a\",status=\"401\"} 1\n"));
        assert!(text.contains("kao_request_duration_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"));
        assert!(text.contains("kao_request_duration_seconds_bucket{route=\"/a\",le=\"0.05\"} 2\n"));
        assert!(text.contains("kao_request_duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("kao_request_duration_seconds_count{route=\"/a\"} 3\n"));
        assert!(text.contains("kao_faces_per_image_bucket{le=\"0\"} 1\n"));
        assert!(text.contains("kao_faces_per_image_bucket{le=\"2\"} 2\n"));
        assert!(text.contains("kao_faces_per_image_sum 2\n"));
        assert!(text.contains("kao_inferences_running 1\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
