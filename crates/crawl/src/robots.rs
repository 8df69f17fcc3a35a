//! robots.txt (RFC 9309): groups by product token, `Allow`/`Disallow` with `*` and `$`,
//! the longest match wins and `Allow` wins a tie; `Crawl-delay` is read too.
//!
//! Kept by hand rather than taken from a crate: see docs/architecture.md ("robots.txt")
//! for the crates compared and why. Beyond the RFC it reads robots.txt files as they are
//! written in the wild, as Google's reference parser does: a byte-order mark, CR-only line
//! ends, a missing colon (`Disallow /x`), the common misspellings of the keys, and a
//! `User-agent` line carrying a version (`kao-crawl/1.0`).

use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Robots {
    rules: Vec<Rule>,
    pub crawl_delay: Option<Duration>,
    /// Everything disallowed (robots.txt answered with a server error).
    deny_all: bool,
}

/// A rule with its pattern in canonical form (see [`canonical`]), split at its `*`s.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    allow: bool,
    /// The pattern's length as written (canonical form): its priority.
    len: usize,
    /// The literal runs between `*`s; the first is anchored at the start of the path.
    parts: Vec<String>,
    /// A final `$`: the last part must end the path.
    anchored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    UserAgent,
    Allow,
    Disallow,
    CrawlDelay,
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
    ///
    /// The groups naming the token apply (all of them, merged); only when none does, the
    /// `*` groups. Consecutive `User-agent` lines share one group; rules before any
    /// `User-agent` line belong to no group and are ignored.
    pub fn parse(text: &str, token: &str) -> Self {
        #[derive(Default)]
        struct Group {
            mine: bool,
            any: bool,
            rules: Vec<Rule>,
            delay: Option<Duration>,
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.split(['\n', '\r']) {
            let Some((key, value)) = key_value(line) else {
                continue;
            };
            if key != Key::UserAgent {
                in_agents = false;
            }
            match key {
                Key::UserAgent => {
                    if !in_agents {
                        groups.push(Group::default());
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        if value == "*" || value.starts_with("* ") {
                            g.any = true;
                        } else if product_token(value).eq_ignore_ascii_case(token) {
                            g.mine = true;
                        }
                    }
                }
                Key::Allow | Key::Disallow => {
                    // An empty `Disallow:` allows everything: it is no rule.
                    if let (Some(g), false) = (groups.last_mut(), value.is_empty()) {
                        g.rules.push(Rule::new(key == Key::Allow, value));
                    }
                }
                Key::CrawlDelay => {
                    if let (Some(g), Ok(s)) = (groups.last_mut(), value.parse::<f64>()) {
                        if s.is_finite() && s >= 0.0 {
                            g.delay = Some(Duration::from_secs_f64(s.min(3600.0)));
                        }
                    }
                }
            }
        }
        let chosen: Vec<&Group> = if groups.iter().any(|g| g.mine) {
            groups.iter().filter(|g| g.mine).collect()
        } else {
            groups.iter().filter(|g| g.any).collect()
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
        let path = canonical(path, false);
        let mut best: Option<(usize, bool)> = None;
        for rule in &self.rules {
            let better = match best {
                None => true,
                Some((len, allow)) => rule.len > len || (rule.len == len && rule.allow && !allow),
            };
            if better && rule.matches(&path) {
                best = Some((rule.len, rule.allow));
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

impl Rule {
    fn new(allow: bool, pattern: &str) -> Rule {
        let (body, anchored) = match pattern.strip_suffix('$') {
            Some(p) => (p, true),
            None => (pattern, false),
        };
        let body = canonical(body, true);
        Rule {
            allow,
            len: body.len() + usize::from(anchored),
            parts: body.split('*').map(str::to_string).collect(),
            anchored,
        }
    }

    /// A prefix match where `*` is any run of characters and a final `$` anchors at the
    /// end. Greedy-leftmost is exact here: each literal part is taken at its first
    /// occurrence, which leaves the most room for the parts after it, and an anchored
    /// last part is checked against the end of the path.
    fn matches(&self, path: &str) -> bool {
        let Some((first, rest)) = self.parts.split_first() else {
            return true;
        };
        let Some(mut tail) = path.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return !self.anchored || tail.is_empty();
        };
        for part in middle {
            match tail.find(part.as_str()) {
                Some(at) => tail = &tail[at + part.len()..],
                None => return false,
            }
        }
        if self.anchored {
            tail.ends_with(last.as_str())
        } else {
            tail.contains(last.as_str())
        }
    }
}

/// The key and value of a line, comments and surrounding space removed. Keys are case
/// insensitive and their usual misspellings are accepted; a line without a colon counts
/// when it is exactly a key and a value separated by white space.
fn key_value(line: &str) -> Option<(Key, &str)> {
    let line = line.split('#').next().unwrap_or("").trim();
    let (key, value) = match line.split_once(':') {
        Some(kv) => kv,
        None => {
            let (key, value) = line.split_once([' ', '\t'])?;
            let value = value.trim();
            if value.contains([' ', '\t']) {
                return None;
            }
            (key, value)
        }
    };
    let key = match key.trim().to_ascii_lowercase().as_str() {
        "user-agent" | "useragent" | "user agent" => Key::UserAgent,
        "allow" => Key::Allow,
        "disallow" | "dissallow" | "dissalow" | "disalow" | "diasllow" | "disallaw" => {
            Key::Disallow
        }
        "crawl-delay" | "crawl_delay" | "crawldelay" => Key::CrawlDelay,
        _ => return None,
    };
    Some((key, value.trim()))
}

/// The product token at the start of a `User-agent` value: letters, `-` and `_`
/// (`kao-crawl/1.0` names `kao-crawl`).
fn product_token(value: &str) -> &str {
    let end = value
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '-' || c == '_'))
        .unwrap_or(value.len());
    &value[..end]
}

/// One spelling for paths and patterns: percent escapes upper-cased (`%7e` = `%7E`),
/// and in patterns every byte outside printable ASCII percent-encoded, as a URL path
/// carries it (`/ツ` matches `/%E3%83%84`).
fn canonical(s: &str, encode: bool) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            out.push('%');
            out.push(b[i + 1].to_ascii_uppercase() as char);
            out.push(b[i + 2].to_ascii_uppercase() as char);
            i += 3;
        } else if encode && !c.is_ascii_graphic() {
            out.push_str(&format!("%{c:02X}"));
            i += 1;
        } else {
            // Printable ASCII, or (in a path) whatever it holds, copied byte-exact.
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

    fn allowed(txt: &str, path: &str) -> bool {
        Robots::parse(txt, "kao").allowed(path)
    }

    fn rule(pattern: &str) -> Rule {
        Rule::new(false, pattern)
    }

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
        assert!(rule("/a*b").matches("/a/x/b/c"));
        assert!(rule("/a*b$").matches("/a/x/b"));
        assert!(!rule("/a*b$").matches("/a/x/b/c"));
        assert!(rule("/a*b$").matches("/a/b/x/b"));
        assert!(!rule("/a*b*c$").matches("/a/c/b"));
        assert!(rule("/").matches("/anything"));
        assert!(rule("/%7euser").matches(&canonical("/%7Euser/x", false)));
        assert!(rule("*").matches("/x"));
        assert!(rule("*.php").matches("/index.php"));
        assert!(rule("/fish*").matches("/fishheads"));
        assert!(
            rule("/x$y").matches("/x$y"),
            "a $ before the end is literal"
        );
        assert!(rule("/foo/bar/ツ").matches("/foo/bar/%E3%83%84"));
    }

    #[test]
    fn longest_match_wins() {
        let txt = "User-agent: *\nDisallow: /private/\nAllow: /private/ok.html\n";
        assert!(allowed(txt, "/private/ok.html"));
        assert!(!allowed(txt, "/private/a.jpg"));
        // The longer rule wins whatever its order in the file.
        let txt = "User-agent: *\nAllow: /a/b/\nDisallow: /a/\n";
        assert!(allowed(txt, "/a/b/c"));
        assert!(!allowed(txt, "/a/c"));
        // `*` counts as a character of the pattern.
        let txt = "User-agent: *\nAllow: /a/*\nDisallow: /a/b\n";
        assert!(allowed(txt, "/a/b"), "/a/* is longer than /a/b");
    }

    #[test]
    fn allow_wins_a_tie() {
        for txt in [
            "User-agent: *\nAllow: /p\nDisallow: /p\n",
            "User-agent: *\nDisallow: /p\nAllow: /p\n",
        ] {
            assert!(allowed(txt, "/page"), "{txt}");
        }
        let txt = "User-agent: *\nDisallow: /\nAllow: /$\n";
        assert!(allowed(txt, "/"));
        assert!(!allowed(txt, "/a"));
    }

    #[test]
    fn user_agent_groups() {
        let txt = "User-agent: *\nDisallow: /\nUser-agent: KAO\nDisallow: /only/\n";
        assert!(allowed(txt, "/x"), "agent names are case insensitive");
        assert!(!allowed(txt, "/only/x"));
        // Every group naming the agent applies.
        let txt = "User-agent: kao\nDisallow: /a/\n\nUser-agent: other\nDisallow: /\n\nUser-agent: kao\nDisallow: /b/\n";
        assert!(!allowed(txt, "/a/x") && !allowed(txt, "/b/x"));
        assert!(allowed(txt, "/c"));
        // A product token with a version still names the agent.
        assert!(!allowed("User-agent: kao/1.0\nDisallow: /x\n", "/x"));
        // Another agent's group, and rules before any group, do not apply.
        assert!(allowed("User-agent: kaoX\nDisallow: /x\n", "/x"));
        assert!(allowed("Disallow: /x\nUser-agent: *\nDisallow: /y\n", "/x"));
        // A `User-agent` line after rules starts a new group.
        let txt = "User-agent: other\nDisallow: /\nUser-agent: kao\nAllow: /\n";
        assert!(allowed(txt, "/x"));
    }

    #[test]
    fn files_as_written_in_the_wild() {
        for txt in [
            "\u{feff}User-agent: *\nDisallow: /x\n",
            "User-agent: *\rDisallow: /x\r",
            "User-agent: *\r\nDisallow: /x\r\n",
            "User-agent: *\nDisallow /x\n",
            "User-agent: *\nDisalow: /x\n",
            "useragent: kao\nDisallow: /x\n",
            "USER-AGENT: *\nDISALLOW: /x # a comment\n",
        ] {
            assert!(!allowed(txt, "/x"), "{txt:?}");
            assert!(allowed(txt, "/y"), "{txt:?}");
        }
        // Three words without a colon are not a rule.
        assert!(allowed("User-agent: *\nDisallow /x y\n", "/x"));
    }

    #[test]
    fn empty_disallow_allows_everything() {
        let r = Robots::parse("User-agent: *\nDisallow:\n", "x");
        assert!(r.allowed("/a"));
        assert!(!Robots::deny_all().allowed("/a"));
        assert!(Robots::deny_all().allowed("/robots.txt"));
    }
}
