//! Time for the simulator: wall-clock milliseconds, and the short durations scenario files
//! and the control API use to place a customer's message in the past (`ago = "23h59m"`).

use chatdesk_base::clock::{Clock as _, SystemClock};

/// Milliseconds since the Unix epoch, now (the relay's wall clock).
#[must_use]
pub fn now_ms() -> i64 {
    SystemClock.now().0
}

/// Why a duration text was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a duration like 500ms, 90s, 23h59m or 7d")]
pub struct BadDuration(pub String);

/// Parses `1d2h3m4s500ms`-style durations (any subset, in that order or not) into ms.
///
/// # Errors
/// Empty text, a number without unit, an unknown unit or an overflow.
pub fn parse_duration(text: &str) -> Result<i64, BadDuration> {
    let bad = || BadDuration(text.to_owned());
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let factor = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Graph's `created_time` form: `2024-05-01T12:34:56+0000`.
#[must_use]
pub fn graph_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}+0000",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Option<i64>) {
        assert_eq!(parse_duration(text).ok(), expected, "{text}");
    }

    #[test]
    fn durations() {
        check("500ms", Some(500));
        check("90s", Some(90_000));
        check("23h59m", Some(86_340_000));
        check("24h1m", Some(86_460_000));
        check("7d", Some(604_800_000));
        check("1d2h", Some(93_600_000));
        check("", None);
        check("5", None);
        check("5y", None);
        check("h", None);
        check("99999999999999999d", None);
    }

    #[test]
    fn graph_times() {
        assert_eq!(graph_time(0), "1970-01-01T00:00:00+0000");
        assert_eq!(graph_time(1_714_566_896_000), "2024-05-01T12:34:56+0000");
    }
}
