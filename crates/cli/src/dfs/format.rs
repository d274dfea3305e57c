//! Hadoop's textual formats: permission strings, `TraditionalBinaryPrefix` sizes,
//! dates, percentages, and the `chmod` mode parser (octal and symbolic).

use chrono::{DateTime, Local, TimeZone, Utc};

/// `FsPermission.toString()`: `rwxr-xr-x`, the sticky bit as `t`/`T` in the last place.
pub fn permission_string(mode: u16) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6u16, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    if mode & 0o1000 != 0 {
        s.pop();
        s.push(if mode & 1 != 0 { 't' } else { 'T' });
    }
    s
}

const PREFIXES: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];

/// `StringUtils.TraditionalBinaryPrefix.long2String(n, unit, decimals)`: `100`,
/// `1.5 K`, `3 M`, `1.15 GB`. Rounds half up, as Java's `Formatter` does.
pub fn long2string(n: i64, unit: &str, decimals: u32) -> String {
    let neg = n < 0;
    let v = n.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if v < 1024 {
        return if unit.is_empty() {
            format!("{sign}{v}")
        } else {
            format!("{sign}{v} {unit}")
        };
    }
    let mut i = 0;
    while i + 1 < PREFIXES.len() && v >= 1u64 << (10 * (i + 2)) {
        i += 1;
    }
    let mut shift = 10 * (i as u32 + 1);
    let body = if v & ((1u64 << shift) - 1) == 0 {
        (v >> shift).to_string()
    } else {
        let mut s = fixed(v, shift, decimals);
        if s.starts_with("1024") && i + 1 < PREFIXES.len() {
            i += 1;
            shift += 10;
            s = fixed(v, shift, decimals);
        }
        s
    };
    format!("{sign}{body} {}{unit}", PREFIXES[i])
}

/// `v / 2^shift` with `decimals` places, rounded half up on the exact value.
fn fixed(v: u64, shift: u32, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let num = u128::from(v) * scale;
    let half = 1u128 << (shift - 1);
    let q = (num + half) >> shift;
    if decimals == 0 {
        return q.to_string();
    }
    format!(
        "{}.{:0width$}",
        q / scale,
        q % scale,
        width = decimals as usize
    )
}

/// `String.format("%.<d>f", x)` with Java's half-up rounding (for percentages).
pub fn java_fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    // Java formats the shortest decimal form of the double, rounding half up.
    let shortest = format!("{x}");
    let neg = shortest.starts_with('-');
    let digits = shortest.trim_start_matches('-');
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut all: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let int_len = int.len();
    let keep = int_len + decimals;
    let round_up = frac.len() > decimals && frac.as_bytes()[decimals] >= b'5';
    all.resize(keep.max(all.len()), 0);
    all.truncate(keep);
    if round_up {
        let mut i = keep;
        loop {
            if i == 0 {
                all.insert(0, 1);
                break;
            }
            i -= 1;
            if all[i] == 9 {
                all[i] = 0;
            } else {
                all[i] += 1;
                break;
            }
        }
    }
    let split = all.len() - decimals;
    let mut s = String::new();
    if neg && all.iter().any(|&d| d != 0) {
        s.push('-');
    }
    s.extend(all[..split].iter().map(|d| char::from(b'0' + d)));
    if decimals > 0 {
        s.push('.');
        s.extend(all[split..].iter().map(|d| char::from(b'0' + d)));
    }
    s
}

/// `StringUtils.byteDesc`: `long2String(n, "B", 2)`.
pub fn byte_desc(n: u64) -> String {
    long2string(n as i64, "B", 2)
}

/// `-ls` dates: `yyyy-MM-dd HH:mm` in the local time zone.
pub fn ls_date(ms: u64) -> String {
    local(ms).format("%Y-%m-%d %H:%M").to_string()
}

/// `-stat` dates: `yyyy-MM-dd HH:mm:ss` in UTC.
pub fn stat_date(ms: u64) -> String {
    utc(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `java.util.Date.toString()`: `Sun Nov 22 02:40:00 UTC 2026`, local time zone.
pub fn java_date(ms: u64) -> String {
    let t = local(ms);
    let zone = match t.offset().local_minus_utc() {
        0 => "UTC".to_owned(),
        _ => t.format("GMT%:z").to_string(),
    };
    format!(
        "{} {zone} {}",
        t.format("%a %b %d %H:%M:%S"),
        t.format("%Y")
    )
}

fn utc(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default()
}

fn local(ms: u64) -> DateTime<Local> {
    utc(ms).with_timezone(&Local)
}

/// A parsed `chmod` mode: octal, or a list of symbolic clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Octal(u16),
    Symbolic(Vec<Clause>),
}

/// One `[ugoa]*[+-=][rwxXt]*` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    who: u16,
    op: char,
    perms: String,
}

impl Mode {
    /// Parses `755`, `1777`, `u+x`, `go-w,a+rX`, `=r`; `None` if malformed.
    pub fn parse(s: &str) -> Option<Mode> {
        if !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return u16::from_str_radix(s, 8).ok().map(Mode::Octal);
        }
        let mut clauses = Vec::new();
        for part in s.split(',') {
            let op_at = part.find(['+', '-', '='])?;
            let (who_s, rest) = part.split_at(op_at);
            let mut who = 0u16;
            for c in who_s.chars() {
                who |= match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => return None,
                };
            }
            let mut chars = rest.chars();
            let op = chars.next()?;
            let perms: String = chars.collect();
            if !perms.chars().all(|c| "rwxXt".contains(c)) {
                return None;
            }
            clauses.push(Clause {
                who: if who == 0 { 0o7777 } else { who },
                op,
                perms,
            });
        }
        if clauses.is_empty() {
            None
        } else {
            Some(Mode::Symbolic(clauses))
        }
    }

    /// The new mode of an entry with `old` (a directory if `is_dir`).
    pub fn apply(&self, old: u16, is_dir: bool) -> u16 {
        let clauses = match self {
            Mode::Octal(m) => return *m,
            Mode::Symbolic(c) => c,
        };
        let mut mode = old & 0o1777;
        for c in clauses {
            let mut bits = 0u16;
            for p in c.perms.chars() {
                bits |= match p {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || mode & 0o111 != 0 => 0o111,
                    't' => 0o1000,
                    _ => 0,
                };
            }
            let set = (bits & 0o777 & c.who) | (bits & 0o1000);
            match c.op {
                '+' => mode |= set,
                '-' => mode &= !set,
                _ => mode = (mode & !(c.who & 0o777) & !(c.who & 0o1000)) | set,
            }
        }
        mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions() {
        assert_eq!(permission_string(0o755), "rwxr-xr-x");
        assert_eq!(permission_string(0o644), "rw-r--r--");
        assert_eq!(permission_string(0o1777), "rwxrwxrwt");
        assert_eq!(permission_string(0o1776), "rwxrwxrwT");
    }

    #[test]
    fn binary_prefixes_like_hadoop() {
        assert_eq!(long2string(0, "", 1), "0");
        assert_eq!(long2string(1023, "", 1), "1023");
        assert_eq!(long2string(1024, "", 1), "1 K");
        assert_eq!(long2string(1536, "", 1), "1.5 K");
        assert_eq!(long2string(1280, "", 1), "1.3 K");
        assert_eq!(long2string(3 << 20, "", 1), "3 M");
        assert_eq!(long2string((3 << 20) + 777, "", 1), "3.0 M");
        assert_eq!(long2string(1024 * 1024 - 1, "", 1), "1.0 M");
        assert_eq!(long2string(0, "B", 2), "0 B");
        assert_eq!(long2string(1_234_567_890, "B", 2), "1.15 GB");
        assert_eq!(long2string(-2048, "", 1), "-2 K");
    }

    #[test]
    fn java_rounding() {
        assert_eq!(java_fixed(0.125, 2), "0.13");
        assert_eq!(java_fixed(12.5, 0), "13");
        assert_eq!(java_fixed(99.999, 2), "100.00");
        assert_eq!(java_fixed(0.0, 2), "0.00");
        assert_eq!(java_fixed(1e-7, 2), "0.00");
        assert_eq!(java_fixed(100.0, 0), "100");
    }

    #[test]
    fn chmod_modes() {
        assert_eq!(Mode::parse("755").unwrap().apply(0o644, false), 0o755);
        assert_eq!(Mode::parse("1777").unwrap().apply(0, true), 0o1777);
        assert_eq!(Mode::parse("u+x").unwrap().apply(0o644, false), 0o744);
        assert_eq!(Mode::parse("go-r").unwrap().apply(0o644, false), 0o600);
        assert_eq!(Mode::parse("a=r").unwrap().apply(0o755, false), 0o444);
        assert_eq!(Mode::parse("+x").unwrap().apply(0o644, false), 0o755);
        assert_eq!(Mode::parse("o+t").unwrap().apply(0o777, true), 0o1777);
        assert_eq!(Mode::parse("a+X").unwrap().apply(0o644, true), 0o755);
        assert_eq!(Mode::parse("a+X").unwrap().apply(0o644, false), 0o644);
        assert_eq!(Mode::parse("u=rwx,g=rx,o=").unwrap().apply(0, false), 0o750);
        assert!(Mode::parse("z+x").is_none());
        assert!(Mode::parse("u+q").is_none());
        assert!(Mode::parse("").is_none());
        assert!(Mode::parse("8").is_none());
    }
}
