//! Parsers for Hadoop's value syntaxes: sizes (`getLongBytes`), durations
//! (`getTimeDuration`), numbers (`getLong`, with `0x` hex), floats (`0.999f`).

use std::time::Duration;

/// A time unit, as a bare number's unit or a value's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// `ns`
    Nanoseconds,
    /// `us`
    Microseconds,
    /// `ms`
    Milliseconds,
    /// `s`
    Seconds,
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
}

impl TimeUnit {
    /// `n` of this unit as a [`Duration`]; `None` on overflow.
    pub fn to_duration(self, n: u64) -> Option<Duration> {
        Some(match self {
            TimeUnit::Nanoseconds => Duration::from_nanos(n),
            TimeUnit::Microseconds => Duration::from_micros(n),
            TimeUnit::Milliseconds => Duration::from_millis(n),
            TimeUnit::Seconds => Duration::from_secs(n),
            TimeUnit::Minutes => Duration::from_secs(n.checked_mul(60)?),
            TimeUnit::Hours => Duration::from_secs(n.checked_mul(3600)?),
            TimeUnit::Days => Duration::from_secs(n.checked_mul(86_400)?),
        })
    }
}

/// Suffixes in match order: two-letter ones before the one-letter ones they end with.
const TIME_SUFFIXES: &[(&str, TimeUnit)] = &[
    ("ns", TimeUnit::Nanoseconds),
    ("us", TimeUnit::Microseconds),
    ("ms", TimeUnit::Milliseconds),
    ("s", TimeUnit::Seconds),
    ("m", TimeUnit::Minutes),
    ("h", TimeUnit::Hours),
    ("d", TimeUnit::Days),
];

/// Parses a duration as Hadoop's `getTimeDuration` does: a non-negative
/// integer with an optional case-insensitive suffix (`ns us ms s m h d`); a
/// bare number is in `default_unit`. `None` if malformed.
pub fn parse_duration(value: &str, default_unit: TimeUnit) -> Option<Duration> {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    let (digits, unit) = TIME_SUFFIXES
        .iter()
        .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|d| (d, *unit)))
        .unwrap_or((lower.as_str(), default_unit));
    let n: u64 = digits.trim().parse().ok()?;
    unit.to_duration(n)
}

/// Parses a size as Hadoop's `getLongBytes` does: an integer with an optional
/// case-insensitive binary suffix `k m g t p e` (powers of 1024). `None` if
/// malformed or out of range.
pub fn parse_size(value: &str) -> Option<u64> {
    let v = value.trim();
    let last = v.chars().last()?;
    let shift = match last.to_ascii_lowercase() {
        'k' => 10,
        'm' => 20,
        'g' => 30,
        't' => 40,
        'p' => 50,
        'e' => 60,
        _ => return v.parse().ok(),
    };
    let n: u64 = v[..v.len() - 1].trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

/// Parses an integer as Hadoop's `getLong` does, including `0x` hex.
pub(crate) fn parse_i64(value: &str) -> Option<i64> {
    let v = value.trim();
    let (neg, body) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let magnitude = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => body.parse::<i128>().ok()?,
    };
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

/// Parses a float as Java's `Float.parseFloat` does for the forms Hadoop's
/// defaults use (`0.999f`, `1.5`, `2.0d`).
pub(crate) fn parse_f32(value: &str) -> Option<f32> {
    let v = value.trim();
    let v = v.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(v);
    v.parse().ok().filter(|f: &f32| f.is_finite())
}

/// Parses a boolean as Hadoop's `getBoolean`: `true`/`false`, any case.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("134217728"), Some(134_217_728));
        assert_eq!(parse_size("128m"), Some(128 << 20));
        assert_eq!(parse_size("128M"), Some(128 << 20));
        assert_eq!(parse_size(" 1g "), Some(1 << 30));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("2t"), Some(2 << 40));
        assert_eq!(parse_size("1p"), Some(1 << 50));
        assert_eq!(parse_size("1e"), Some(1 << 60));
        assert_eq!(parse_size("16e"), None, "overflow");
        assert_eq!(parse_size("12x"), None);
        assert_eq!(parse_size("m"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn durations() {
        let s = TimeUnit::Seconds;
        assert_eq!(parse_duration("3", s), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("3s", s), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("3S", s), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms", s), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m", s), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h", s), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d", s), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7us", s), Some(Duration::from_micros(7)));
        assert_eq!(parse_duration("9ns", s), Some(Duration::from_nanos(9)));
        assert_eq!(
            parse_duration("300000", TimeUnit::Milliseconds),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_duration("3x", s), None);
        assert_eq!(parse_duration("-3s", s), None);
        assert_eq!(parse_duration("", s), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_i64("42"), Some(42));
        assert_eq!(parse_i64(" -7 "), Some(-7));
        assert_eq!(parse_i64("0x10"), Some(16));
        assert_eq!(parse_i64("-0x10"), Some(-16));
        assert_eq!(parse_i64("9223372036854775808"), None);
        assert_eq!(parse_i64("4k"), None);
        assert_eq!(parse_f32("0.999f"), Some(0.999));
        assert_eq!(parse_f32("1.5"), Some(1.5));
        assert_eq!(parse_f32("nan"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool(" false "), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
