//! The server's counters, gauges and histograms (`prometheus-client`), written in the
//! Prometheus text format 0.0.4 at `/metrics`.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const FACE_BUCKETS: [f64; 7] = [0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabel {
    name: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The server's metrics, shared by every request.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    faces: Histogram,
    /// Replaced as a whole on each reload; the lock keeps a render from seeing it half
    /// replaced.
    iterations: Mutex<Family<NameLabel, Gauge>>,
    reloads: Counter,
    reload_failures: Counter,
    running: Gauge,
    queued: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let faces = Histogram::new(FACE_BUCKETS);
        let iterations = Family::<NameLabel, Gauge>::default();
        let (reloads, reload_failures) = (Counter::default(), Counter::default());
        let (running, queued) = (Gauge::default(), Gauge::default());
        let mut r = Registry::default();
        r.register(
            "kao_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        r.register(
            "kao_request_duration_seconds",
            "Time from request to response",
            latency.clone(),
        );
        r.register(
            "kao_faces_per_image",
            "Faces found in each predicted image",
            faces.clone(),
        );
        r.register(
            "kao_model_iteration",
            "Iteration served under each published name",
            iterations.clone(),
        );
        r.register(
            "kao_model_reloads",
            "Loads of published.json that were swapped in",
            reloads.clone(),
        );
        r.register(
            "kao_model_reload_failures",
            "Loads that failed; the old models kept serving",
            reload_failures.clone(),
        );
        r.register(
            "kao_inferences_running",
            "Inferences on the blocking pool now",
            running.clone(),
        );
        r.register(
            "kao_inferences_queued",
            "Requests waiting for an inference slot",
            queued.clone(),
        );
        Metrics {
            registry: r,
            requests,
            latency,
            faces,
            iterations: Mutex::new(iterations),
            reloads,
            reload_failures,
            running,
            queued,
        }
    }

    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_string();
        self.latency
            .get_or_create(&RouteLabel {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    pub fn faces(&self, n: usize) {
        self.faces.observe(n as f64);
    }

    pub fn published(&self, names: impl IntoIterator<Item = (String, u32)>) {
        let iterations = self.lock_iterations();
        iterations.clear();
        for (name, iteration) in names {
            iterations
                .get_or_create(&NameLabel { name })
                .set(i64::from(iteration));
        }
        self.reloads.inc();
    }

    pub fn reload_failed(&self) {
        self.reload_failures.inc();
    }

    pub fn render(&self, inflight: usize, queued: usize) -> String {
        self.running.set(inflight as i64);
        self.queued.set(queued as i64);
        let _iterations = self.lock_iterations();
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }

    fn lock_iterations(&self) -> std::sync::MutexGuard<'_, Family<NameLabel, Gauge>> {
        // A panic while holding the lock leaves only gauges behind; keep going.
        self.iterations.lock().unwrap_or_else(|p| p.into_inner())
    }
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
        assert!(
            text.contains("# TYPE kao_requests_total counter\n"),
            "{text}"
        );
        assert!(text.contains("kao_requests_total{route=\"/a\",status=\"200\"} 2\n"));
        assert!(text.contains("kao_requests_total{route=\"/a\",status=\"401\"} 1\n"));
        assert!(text.contains("# TYPE kao_request_duration_seconds histogram\n"));
        assert!(text.contains("kao_request_duration_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"));
        assert!(text.contains("kao_request_duration_seconds_bucket{route=\"/a\",le=\"0.05\"} 2\n"));
        assert!(text.contains("kao_request_duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("kao_request_duration_seconds_count{route=\"/a\"} 3\n"));
        assert!(
            text.contains("kao_faces_per_image_bucket{le=\"0\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("kao_faces_per_image_bucket{le=\"2\"} 2\n"));
        let sum = text
            .lines()
            .find_map(|l| l.strip_prefix("kao_faces_per_image_sum "))
            .and_then(|v| v.parse::<f64>().ok());
        assert_eq!(sum, Some(2.0), "{text}");
        assert!(text.contains("kao_inferences_running 1\n"));
        assert!(text.contains("kao_inferences_queued 0\n"));
        assert!(text.contains("kao_model_reloads_total 0\n"), "{text}");
    }

    #[test]
    fn a_reload_replaces_the_published_names() {
        let m = Metrics::new();
        m.published([("prod".to_string(), 3), ("beta".to_string(), 4)]);
        m.published([("prod".to_string(), 5)]);
        m.reload_failed();
        let text = m.render(0, 0);
        assert!(
            text.contains("kao_model_iteration{name=\"prod\"} 5\n"),
            "{text}"
        );
        assert!(!text.contains("beta"), "{text}");
        assert!(text.contains("kao_model_reloads_total 2\n"), "{text}");
        assert!(
            text.contains("kao_model_reload_failures_total 1\n"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.request("a\"b\\c\nd", 200, Duration::ZERO);
        let text = m.render(0, 0);
        assert!(
            text.contains("kao_requests_total{route=\"a\\\"b\\\\c\\nd\",status=\"200\"} 1\n"),
            "{text}"
        );
    }
}
