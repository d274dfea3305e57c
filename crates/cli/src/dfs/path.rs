//! Path arguments as Hadoop's `PathData` sees them: `hdfs://authority/path` URIs,
//! absolute paths, paths relative to the working directory (`/user/<user>`), and
//! globs (`*`, `?`, `[..]`, `{a,b}`, `\` escapes) expanded one component at a time
//! like Hadoop's `Globber`.

use ferrodfs_client::{DfsClient, Error, FileStatus};

/// How an argument named its path; matches keep the same form when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `hdfs://authority/...` (prefix `hdfs://authority`), or `hdfs:/...` (prefix
    /// `hdfs://`, as Hadoop shows such matches: `hdfs:///path`).
    Scheme(String),
    Absolute,
    Relative,
}

/// One parsed argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub form: Form,
    /// The URI's authority, if it gave one.
    pub authority: Option<String>,
    /// Absolute, normalised.
    pub path: String,
    /// The path part as given (not normalised; may be relative).
    pub raw: String,
}

/// Parses `arg` against the working directory `cwd`.
pub fn parse(arg: &str, cwd: &str) -> Result<Parsed, String> {
    if let Some(colon) = arg.find(':') {
        let scheme = &arg[..colon];
        let is_scheme = !scheme.is_empty()
            && !scheme.contains('/')
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if is_scheme {
            if !scheme.eq_ignore_ascii_case("hdfs") {
                return Err(format!("No FileSystem for scheme \"{scheme}\""));
            }
            let rest = &arg[colon + 1..];
            if let Some(after) = rest.strip_prefix("//") {
                let (auth, path) = match after.find('/') {
                    Some(i) => (&after[..i], &after[i..]),
                    None => (after, "/"),
                };
                let authority = (!auth.is_empty()).then(|| auth.to_owned());
                // Without an authority Hadoop shows matches as `hdfs:///path`.
                let prefix = format!("hdfs://{}", authority.as_deref().unwrap_or(""));
                return Ok(Parsed {
                    form: Form::Scheme(prefix),
                    authority,
                    path: normalize(path),
                    raw: path.to_owned(),
                });
            }
            if !rest.starts_with('/') {
                return Err(format!(
                    "java.net.URISyntaxException: Relative path in absolute URI: {arg}"
                ));
            }
            return Ok(Parsed {
                form: Form::Scheme("hdfs://".into()),
                authority: None,
                path: normalize(rest),
                raw: rest.to_owned(),
            });
        }
    }
    if arg.starts_with('/') {
        Ok(Parsed {
            form: Form::Absolute,
            authority: None,
            path: normalize(arg),
            raw: arg.to_owned(),
        })
    } else {
        Ok(Parsed {
            form: Form::Relative,
            authority: None,
            path: normalize(&join(cwd, arg)),
            raw: arg.to_owned(),
        })
    }
}

/// `base/name` (a `name` starting with `/` replaces `base`).
pub fn join(base: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// Collapses `//`, `.` and `..`; keeps the leading `/`, drops a trailing one.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The last component (`""` for `/`).
pub fn basename(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// The parent of an absolute path (`/` for `/` and top-level entries).
pub fn parent(path: &str) -> String {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_owned(),
    }
}

/// Hadoop's display of a child entry of `parent` (as displayed).
pub fn child_display(parent: &str, name: &str) -> String {
    if parent == "." {
        name.to_owned()
    } else if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// `PathData.relativize`: `path` relative to `cwd` (both absolute, normalised).
pub fn relativize(cwd: &str, path: &str) -> String {
    if cwd == path {
        return ".".into();
    }
    let c: Vec<&str> = cwd.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let common = c.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; c.len() - common];
    out.extend(&p[common..]);
    out.join("/")
}

/// The display of a match of an argument of `form` (Hadoop's `expandAsGlob`).
pub fn display_of(form: &Form, cwd: &str, path: &str) -> String {
    match form {
        Form::Scheme(prefix) => format!("{prefix}{path}"),
        Form::Absolute => path.to_owned(),
        Form::Relative => relativize(cwd, path),
    }
}

/// True if `s` holds an unescaped glob character.
pub fn has_glob(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if "*?[{".contains(c) {
            return true;
        }
    }
    false
}

/// Drops `\` escapes.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if !escaped && c == '\\' {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}

/// Expands `{a,b}` alternatives (nested too) into separate patterns.
pub fn expand_braces(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut open = None;
    let mut depth = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'{' => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let start = open.unwrap_or(0);
                    let (pre, body, post) = (&s[..start], &s[start + 1..i], &s[i + 1..]);
                    let mut out = Vec::new();
                    for alt in split_top_commas(body) {
                        for tail in expand_braces(&format!("{alt}{post}")) {
                            out.push(format!("{pre}{tail}"));
                        }
                    }
                    return out;
                }
            }
            _ => {}
        }
        i += 1;
    }
    vec![s.to_owned()]
}

fn split_top_commas(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let (mut out, mut depth, mut start, mut i) = (Vec::new(), 0, 0, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// Does `name` match one path component `pattern` (`*`, `?`, `[..]`, `\`)?
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let Some(&c) = p.first() else {
        return n.is_empty();
    };
    match c {
        '*' => (0..=n.len()).any(|k| match_from(&p[1..], &n[k..])),
        '?' => !n.is_empty() && match_from(&p[1..], &n[1..]),
        '[' => {
            let Some(&ch) = n.first() else { return false };
            match class(&p[1..], ch) {
                Some((ok, used)) => ok && match_from(&p[1 + used..], &n[1..]),
                // An unclosed `[` is a literal.
                None => ch == '[' && match_from(&p[1..], &n[1..]),
            }
        }
        '\\' if p.len() > 1 => n.first() == Some(&p[1]) && match_from(&p[2..], &n[1..]),
        c => n.first() == Some(&c) && match_from(&p[1..], &n[1..]),
    }
}

/// Matches `ch` against the class body at `p` (after `[`); returns (matched,
/// chars consumed including `]`).
fn class(p: &[char], ch: char) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = matches!(p.first(), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() {
        let c = p[i];
        if c == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        let lo = if c == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            c
        };
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let hi = p[i + 2];
            hit |= lo <= ch && ch <= hi;
            i += 3;
        } else {
            hit |= lo == ch;
            i += 1;
        }
    }
    None
}

/// Expands an absolute pattern against the namespace. `None`: not a glob and the
/// path does not exist. Results are sorted by path.
pub fn glob(client: &DfsClient, pattern: &str) -> Result<Option<Vec<(String, FileStatus)>>, Error> {
    if !has_glob(pattern) {
        let path = unescape(pattern);
        return match client.status(&path) {
            Ok(st) => Ok(Some(vec![(path, st)])),
            Err(Error::FileNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let mut out = Vec::new();
    for pat in expand_braces(pattern) {
        out.extend(glob_one(client, &normalize(&pat))?);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(Some(out))
}

fn glob_one(client: &DfsClient, pattern: &str) -> Result<Vec<(String, FileStatus)>, Error> {
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut cur: Vec<(String, Option<FileStatus>)> = vec![("/".into(), None)];
    for comp in comps {
        let mut next = Vec::new();
        if !has_glob(comp) {
            let name = unescape(comp);
            for (p, st) in cur {
                if st.as_ref().is_some_and(|s| !s.is_dir()) {
                    continue;
                }
                next.push((join(&p, &name), None));
            }
        } else {
            for (p, st) in cur {
                if st.as_ref().is_some_and(|s| !s.is_dir()) {
                    continue;
                }
                let children = match client.list(&p) {
                    Ok(c) => c,
                    Err(Error::FileNotFound { .. }) | Err(Error::AccessControl { .. }) => continue,
                    Err(e) => return Err(e),
                };
                for child in children {
                    if matches(comp, &child.name) {
                        next.push((join(&p, &child.name), Some(child)));
                    }
                }
            }
        }
        cur = next;
    }
    let mut out = Vec::with_capacity(cur.len());
    for (p, st) in cur {
        match st {
            Some(st) => out.push((p, st)),
            None => match client.status(&p) {
                Ok(st) => out.push((p, st)),
                Err(Error::FileNotFound { .. }) => {}
                Err(e) => return Err(e),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arguments() {
        let p = parse("hdfs://nn:9000/a/../b/", "/user/me").unwrap();
        assert_eq!(p.form, Form::Scheme("hdfs://nn:9000".into()));
        assert_eq!(p.authority.as_deref(), Some("nn:9000"));
        assert_eq!(p.path, "/b");
        let p = parse("hdfs://nn:9000", "/user/me").unwrap();
        assert_eq!(p.path, "/");
        let p = parse("x/./y", "/user/me").unwrap();
        assert_eq!((p.form, p.path.as_str()), (Form::Relative, "/user/me/x/y"));
        assert_eq!(parse(".", "/user/me").unwrap().path, "/user/me");
        assert_eq!(parse("//a//b", "/").unwrap().path, "/a/b");
        assert!(parse("file:///tmp", "/").is_err());
        assert_eq!(
            parse("a:b", "/u").unwrap_err(),
            "No FileSystem for scheme \"a\""
        );
    }

    #[test]
    fn displays_like_pathdata() {
        assert_eq!(relativize("/user/me", "/user/me"), ".");
        assert_eq!(relativize("/user/me", "/user/me/a/b"), "a/b");
        assert_eq!(relativize("/user/me", "/user/you/x"), "../you/x");
        assert_eq!(relativize("/user/me", "/"), "../..");
        assert_eq!(child_display(".", "a"), "a");
        assert_eq!(child_display("/", "a"), "/a");
        assert_eq!(child_display("hdfs://h:1/d", "a"), "hdfs://h:1/d/a");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(basename("/a/b"), "b");
    }

    #[test]
    fn glob_patterns() {
        assert!(matches("*.txt", "a.txt"));
        assert!(matches("*", ".hidden"));
        assert!(!matches("*.txt", "a.txt.gz"));
        assert!(matches("a?c", "abc"));
        assert!(matches("[ab]x", "bx"));
        assert!(!matches("[!ab]x", "bx"));
        assert!(matches("[^ab]x", "cx"));
        assert!(matches("f[0-9]", "f7"));
        assert!(!matches("f[0-9]", "fa"));
        assert!(matches("a\\*", "a*"));
        assert!(!matches("a\\*", "ab"));
        assert!(has_glob("/a/*"));
        assert!(!has_glob("/a/\\*"));
        assert_eq!(
            expand_braces("/d/{a,b{1,2}}.txt"),
            vec!["/d/a.txt", "/d/b1.txt", "/d/b2.txt"]
        );
        assert_eq!(expand_braces("/plain"), vec!["/plain"]);
    }
}
