//! robots.txt (RFC 9309): groups by product token, `Allow`/`Disallow` with `*` and `$`,
//! the longest match wins and `Allow` wins a tie; `Crawl-delay` is read too.

use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Robots {
    rules: Vec<Rule>,
    pub crawl_delay: Option<Duration>,
    /// Everything disallowed (robots.txt answered with a server error).
    deny_all: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    allow: bool,
    pattern: String,
}

impl Robots {
    pub fn allow_all() -> Self {
        Robots::default()
    }

    pub fn deny_all() -> Self {
        Robots {
            deny_all: true,
            ..Robots::default()
        }
    }

    /// Parses a robots.txt for the crawler whose product token is `token` (lower case).
    pub fn parse(text: &str, token: &str) -> Self {
        #[derive(Default)]
        struct Group {
            agents: Vec<String>,
            rules: Vec<Rule>,
            delay: Option<Duration>,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group::default());
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.agents.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        if !value.is_empty() {
                            g.rules.push(Rule {
                                allow: key == "allow",
                                pattern: value.to_string(),
                            });
                        }
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let (Some(g), Ok(s)) = (groups.last_mut(), value.parse::<f64>()) {
                        if s.is_finite() && s >= 0.0 {
                            g.delay = Some(Duration::from_secs_f64(s.min(3600.0)));
                        }
                    }
                }
                _ => {}
            }
        }
        let mine = |g: &&Group| g.agents.iter().any(|a| a == token);
        let any = |g: &&Group| g.agents.iter().any(|a| a == "*");
        let chosen: Vec<&Group> = if groups.iter().any(|g| mine(&g)) {
            groups.iter().filter(mine).collect()
        } else {
            groups.iter().filter(any).collect()
        };
        Robots {
            rules: chosen
                .iter()
                .flat_map(|g| g.rules.iter().cloned())
                .collect(),
            crawl_delay: chosen.iter().filter_map(|g| g.delay).max(),
            deny_all: false,
        }
    }

    /// Whether `path` (path and query, as sent on the wire) may be fetched.
    pub fn allowed(&self, path: &str) -> bool {
        if self.deny_all {
            return path == "/robots.txt";
        }
        let mut best: Option<(usize, bool)> = None;
        for rule in &self.rules {
            if matches(&rule.pattern, path) {
                let len = rule.pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, rule.allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Matches a robots.txt path pattern: a prefix match where `*` is any run of characters
/// and a final `$` anchors at the end.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let pattern = normalise(pattern);
    let path = normalise(path);
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 && anchored {
            return path.len() >= pos + part.len() && path.ends_with(part);
        } else {
            match path[pos..].find(part) {
                Some(at) => pos += at + part.len(),
                None => return false,
            }
        }
    }
    !anchored || pos == path.len()
}

/// Upper-cases percent escapes so `%7e` and `%7E` compare equal.
fn normalise(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            out.push('%');
            out.push((b[i + 1] as char).to_ascii_uppercase());
            out.push((b[i + 2] as char).to_ascii_uppercase());
            i += 3;
        } else {
            let ch = s[i..].chars().next().unwrap_or('\0');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &str = "\
# comment
User-agent: *
Disallow: /private/
Allow: /private/ok.html
Disallow: /*.gif$
Crawl-delay: 1.5

User-agent: kao-crawl
User-agent: other
Disallow: /only-kao/
";

    #[test]
    fn wildcard_group() {
        let r = Robots::parse(TXT, "somebot");
        assert!(r.allowed("/"));
        assert!(r.allowed("/public/a.jpg"));
        assert!(!r.allowed("/private/a.jpg"));
        assert!(r.allowed("/private/ok.html"));
        assert!(!r.allowed("/x/y.gif"));
        assert!(r.allowed("/x/y.gif?size=2"));
        assert_eq!(r.crawl_delay, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn own_group_replaces_wildcard() {
        let r = Robots::parse(TXT, "kao-crawl");
        assert!(r.allowed("/private/a.jpg"));
        assert!(!r.allowed("/only-kao/a.jpg"));
        assert_eq!(r.crawl_delay, None);
    }

    #[test]
    fn patterns() {
        assert!(matches("/a*b", "/a/x/b/c"));
        assert!(matches("/a*b$", "/a/x/b"));
        assert!(!matches("/a*b$", "/a/x/b/c"));
        assert!(matches("/", "/anything"));
        assert!(matches("/%7euser", "/%7Euser/x"));
        assert!(matches("*", "/x"));
    }

    #[test]
    fn empty_disallow_allows_everything() {
        let r = Robots::parse("User-agent: *\nDisallow:\n", "x");
        assert!(r.allowed("/a"));
        assert!(!Robots::deny_all().allowed("/a"));
    }
}
