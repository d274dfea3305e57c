//! Hadoop's `VersionUtil.compareVersions` (Maven's `ComparableVersion` ordering), used to
//! hold DataNodes to `dfs.namenode.min.supported.datanode.version`.
//!
//! A version splits at `.`, `-` and digit/letter boundaries into numbers and qualifiers.
//! Numbers compare numerically; qualifiers rank `alpha` < `beta` < `milestone` < `rc` <
//! `snapshot` < (release) < `sp` < anything else (alphabetically); a number outranks a
//! qualifier; a missing item counts as 0 / release, so `2.1.0-beta` < `2.1.0` = `2.1`.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Number(u64),
    Qualifier(String),
}

/// Splits a version into its items.
fn items(v: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Item>| {
        if cur.is_empty() {
            return;
        }
        let item = match cur.parse::<u64>() {
            Ok(n) => Item::Number(n),
            Err(_) if cur.bytes().all(|b| b.is_ascii_digit()) => Item::Number(u64::MAX),
            Err(_) => Item::Qualifier(cur.to_ascii_lowercase()),
        };
        out.push(item);
        cur.clear();
    };
    for c in v.trim().chars() {
        if c == '.' || c == '-' || c == '_' {
            flush(&mut cur, &mut out);
            continue;
        }
        if let Some(last) = cur.chars().next_back() {
            if last.is_ascii_digit() != c.is_ascii_digit() {
                flush(&mut cur, &mut out);
            }
        }
        cur.push(c);
    }
    flush(&mut cur, &mut out);
    out
}

/// Rank of a qualifier; the release (no qualifier) is 5.
fn rank(q: &str) -> u8 {
    match q {
        "alpha" | "a" => 0,
        "beta" | "b" => 1,
        "milestone" | "m" => 2,
        "rc" | "cr" => 3,
        "snapshot" => 4,
        "" | "ga" | "final" | "release" => 5,
        "sp" => 6,
        _ => 7,
    }
}

fn compare_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    use Item::*;
    match (a, b) {
        (None, None) => Ordering::Equal,
        (Some(Number(x)), Some(Number(y))) => x.cmp(y),
        (Some(Number(_)), Some(Qualifier(_))) => Ordering::Greater,
        (Some(Qualifier(_)), Some(Number(_))) => Ordering::Less,
        (Some(Qualifier(x)), Some(Qualifier(y))) => rank(x).cmp(&rank(y)).then_with(|| x.cmp(y)),
        (Some(Number(x)), None) => x.cmp(&0),
        (None, Some(Number(y))) => 0.cmp(y),
        (Some(Qualifier(x)), None) => rank(x).cmp(&rank("")),
        (None, Some(Qualifier(y))) => rank("").cmp(&rank(y)),
    }
}

/// Orders two version strings as Hadoop's `VersionUtil.compareVersions` does.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (a, b) = (items(a), items(b));
    (0..a.len().max(b.len()))
        .map(|i| compare_item(a.get(i), b.get(i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn hadoop_orderings() {
        assert_eq!(compare_versions("3.3.4", "2.1.0-beta"), Greater);
        assert_eq!(compare_versions("2.1.0", "2.1.0-beta"), Greater);
        assert_eq!(compare_versions("2.1.0-alpha", "2.1.0-beta"), Less);
        assert_eq!(compare_versions("2.0.0-SNAPSHOT", "2.0.0"), Less);
        assert_eq!(compare_versions("2.1", "2.1.0"), Equal);
        assert_eq!(compare_versions("2.10.0", "2.9.9"), Greater);
        assert_eq!(compare_versions("1.0.0", "2.1.0-beta"), Less);
        assert_eq!(compare_versions("", "2.1.0-beta"), Less);
        assert_eq!(compare_versions("3.4.0-SNAPSHOT", "2.1.0-beta"), Greater);
        assert_eq!(compare_versions("ferrodfs", "2.1.0-beta"), Less);
    }
}
