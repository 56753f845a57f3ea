//! Wall-clock time as the store and the wire write it: RFC 3339 in UTC with millisecond precision,
//! always the same width (`2026-11-25T22:10:56.123Z`), so times compare correctly as text in both
//! SQLite and PostgreSQL columns.

use std::time::Duration;

use time::OffsetDateTime;

/// The current time, e.g. `2026-11-25T22:10:56.123Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// The time `after` from now, written like [`now_rfc3339`].
pub fn rfc3339_in(after: Duration) -> String {
    format_rfc3339(OffsetDateTime::now_utc() + after)
}

/// The time `before` ago, written like [`now_rfc3339`].
pub fn rfc3339_ago(before: Duration) -> String {
    format_rfc3339(OffsetDateTime::now_utc() - before)
}

fn format_rfc3339(at: OffsetDateTime) -> String {
    // Written by hand rather than with `Rfc3339`, which trims trailing zeros: a fixed width sorts
    // and compares as text.
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// A duration with a unit (`500ms`, `30s`, `15m`, `2h`, `30d`); a bare number is seconds. Zero is
/// refused: every duration here is a timeout or an interval.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| "expected a number with a unit, e.g. 30s".to_owned())?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86_400.0,
        other => return Err(format!("unknown unit {other:?}; use ms, s, m, h or d")),
    };
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if !d.is_zero() && d <= Duration::from_secs(10 * 365 * 86_400) => Ok(d),
        _ => Err("must be above zero and at most ten years".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_millis_of_fixed_width() {
        let at = now_rfc3339();
        assert!(at.ends_with('Z'), "{at}");
        assert_eq!(at.len(), "2026-11-25T22:10:56.123Z".len(), "{at}");
        let parsed = OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339);
        assert!(parsed.is_ok(), "{at}");
        assert!(rfc3339_ago(Duration::from_secs(60)) < at);
        assert!(rfc3339_in(Duration::from_secs(60)) > at);
    }
}
