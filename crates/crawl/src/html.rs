//! Links out of HTML: the images and pages of a site page, the results of a search page.

use scraper::{Html, Selector};
use url::Url;

/// What a page points at, in document order, without repeats.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PageLinks {
    pub images: Vec<Url>,
    pub pages: Vec<Url>,
}

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "bmp", "webp"];

/// Whether a URL's path names an image file by its extension.
pub(crate) fn looks_like_image(url: &Url) -> bool {
    let path = url.path().to_ascii_lowercase();
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.contains(&ext))
}

fn selector(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

/// Images (`<img src>`, the largest `srcset` candidate, lazy `data-src`/`data-original`,
/// `<picture><source srcset>`, `<a href>` to image files, `og:image`) and pages
/// (other `<a href>`) of an HTML document.
pub(crate) fn extract(html: &str, page: &Url) -> PageLinks {
    let doc = Html::parse_document(html);
    let base = doc
        .select(&selector("base[href]"))
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page.join(h).ok())
        .unwrap_or_else(|| page.clone());
    let mut out = PageLinks::default();
    let push = |list: &mut Vec<Url>, raw: &str| {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with("data:") || raw.starts_with('#') {
            return;
        }
        if let Some(u) = resolve(&base, raw) {
            if !list.contains(&u) {
                list.push(u);
            }
        }
    };
    let all = selector("img, picture source, a[href], meta[content]");
    for el in doc.select(&all) {
        let v = el.value();
        match v.name() {
            "img" | "source" => {
                let best = ["data-srcset", "srcset"]
                    .iter()
                    .filter_map(|a| v.attr(a))
                    .find_map(largest_candidate);
                let chosen = best.or_else(|| {
                    ["data-src", "data-original", "data-lazy-src", "src"]
                        .iter()
                        .filter_map(|a| v.attr(a))
                        .find(|s| !s.trim().is_empty() && !s.trim().starts_with("data:"))
                        .map(str::to_string)
                });
                if let Some(src) = chosen {
                    push(&mut out.images, &src);
                }
            }
            "a" => {
                let href = v.attr("href").unwrap_or("");
                let Some(u) = resolve(&base, href.trim()) else {
                    continue;
                };
                if looks_like_image(&u) {
                    push(&mut out.images, href);
                } else {
                    push(&mut out.pages, href);
                }
            }
            "meta" => {
                let key = v.attr("property").or_else(|| v.attr("name")).unwrap_or("");
                if matches!(
                    key.to_ascii_lowercase().as_str(),
                    "og:image" | "og:image:url" | "og:image:secure_url" | "twitter:image"
                ) {
                    push(&mut out.images, v.attr("content").unwrap_or(""));
                }
            }
            _ => {}
        }
    }
    out
}

/// Resolves a link against the page, dropping the fragment; only http(s) links count.
pub(crate) fn resolve(base: &Url, raw: &str) -> Option<Url> {
    let mut u = base.join(raw).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    u.set_fragment(None);
    Some(u)
}

/// The URL of the widest (`640w`) or densest (`2x`) candidate of a `srcset`.
fn largest_candidate(srcset: &str) -> Option<String> {
    let mut best: Option<(u8, f64, &str)> = None;
    for candidate in srcset.split(',') {
        let mut words = candidate.split_whitespace();
        let Some(url) = words.next() else { continue };
        if url.starts_with("data:") {
            continue;
        }
        let descriptor = words.next().unwrap_or("1x");
        // Width descriptors rank above density ones: they describe the real file.
        let (rank, size) = if let Some(w) = descriptor.strip_suffix(['w', 'W']) {
            (1, w.parse().unwrap_or(0.0))
        } else if let Some(x) = descriptor.strip_suffix(['x', 'X']) {
            (0, x.parse().unwrap_or(1.0))
        } else {
            (0, 1.0)
        };
        if best.is_none_or(|(r, s, _)| (rank, size) > (r, s)) {
            best = Some((rank, size, url));
        }
    }
    best.map(|(_, _, u)| u.to_string())
}

/// The full-size image URLs of an image-search results page: every element with an `m`
/// attribute holding JSON with a `murl` (Bing's result anchors, `a.iusc`).
pub(crate) fn search_results(html: &str, page: &Url) -> Vec<Url> {
    let doc = Html::parse_document(html);
    let mut out: Vec<Url> = Vec::new();
    for el in doc.select(&selector("[m]")) {
        let Some(m) = el.value().attr("m") else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(m) else {
            tracing::debug!(page = %page, "result with an unreadable m attribute");
            continue;
        };
        let Some(murl) = json.get("murl").and_then(|v| v.as_str()) else {
            continue;
        };
        if let Some(u) = resolve(page, murl) {
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn srcset_largest() {
        assert_eq!(
            largest_candidate("a.jpg 320w, b.jpg 1024w, c.jpg 640w").as_deref(),
            Some("b.jpg")
        );
        assert_eq!(
            largest_candidate("a.jpg, b.jpg 2x").as_deref(),
            Some("b.jpg")
        );
        assert_eq!(
            largest_candidate("a.jpg 3x, b.jpg 10w").as_deref(),
            Some("b.jpg")
        );
        assert_eq!(largest_candidate(""), None);
    }

    #[test]
    fn page_links() {
        let html = r#"<html><head>
            <meta property="og:image" content="/og.jpg">
            </head><body>
            <img src="small.jpg" srcset="small.jpg 1x, big.jpg 2x">
            <img src="data:image/gif;base64,R0lGOD" data-src="lazy.png">
            <img class="lazy" data-original="/orig.webp" src="placeholder.gif">
            <picture><source srcset="p-400.webp 400w, p-800.webp 800w"><img src="p.jpg"></picture>
            <a href="photos/full.JPG">full</a>
            <a href="next.html#top">next</a>
            <a href="mailto:x@y">mail</a>
            <a href="next.html">again</a>
            <img src="/og.jpg">
        </body></html>"#;
        let links = extract(html, &url("http://h/dir/index.html"));
        let images: Vec<&str> = links.images.iter().map(Url::as_str).collect();
        assert_eq!(
            images,
            [
                "http://h/og.jpg",
                "http://h/dir/big.jpg",
                "http://h/dir/lazy.png",
                "http://h/orig.webp",
                "http://h/dir/p-800.webp",
                "http://h/dir/p.jpg",
                "http://h/dir/photos/full.JPG",
            ]
        );
        let pages: Vec<&str> = links.pages.iter().map(Url::as_str).collect();
        assert_eq!(pages, ["http://h/dir/next.html"]);
    }

    #[test]
    fn base_href() {
        let links = extract(
            r#"<base href="http://cdn/x/"><img src="a.png">"#,
            &url("http://h/p.html"),
        );
        assert_eq!(links.images, [url("http://cdn/x/a.png")]);
    }

    #[test]
    fn bing_results() {
        let html = r#"
            <a class="iusc" m='{"murl":"http://img/a.png","turl":"http://t/1"}'>1</a>
            <a class="iusc" m="{&quot;murl&quot;:&quot;http://img/b.webp&quot;}">2</a>
            <a class="iusc" m='not json'>3</a>
            <a class="iusc" m='{"murl":"http://img/a.png"}'>dup</a>
            <a class="iusc" m='{"turl":"http://t/2"}'>no murl</a>"#;
        let urls = search_results(html, &url("http://bing/images/search?q=x"));
        assert_eq!(urls, [url("http://img/a.png"), url("http://img/b.webp")]);
    }
}
