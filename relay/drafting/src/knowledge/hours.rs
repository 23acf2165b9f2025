//! Opening hours: per weekday, zero or more `HH:MM-HH:MM` ranges in the business's own time
//! zone, named by its IANA name (`Asia/Jakarta`).
//!
//! The time zone is kept as a name and checked only for its shape: this crate carries no
//! time-zone database, and nothing here needs to convert instants (the drafter states hours
//! as the business wrote them). Overnight ranges are not supported; write `22:00-24:00`.

use std::fmt;

/// A day of the week, Monday first as in ISO 8601.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The key used in the knowledge file (`mon` … `sun`).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    #[must_use]
    pub fn english(self) -> &'static str {
        match self {
            Weekday::Mon => "Monday",
            Weekday::Tue => "Tuesday",
            Weekday::Wed => "Wednesday",
            Weekday::Thu => "Thursday",
            Weekday::Fri => "Friday",
            Weekday::Sat => "Saturday",
            Weekday::Sun => "Sunday",
        }
    }

    #[must_use]
    pub fn indonesian(self) -> &'static str {
        match self {
            Weekday::Mon => "Senin",
            Weekday::Tue => "Selasa",
            Weekday::Wed => "Rabu",
            Weekday::Thu => "Kamis",
            Weekday::Fri => "Jumat",
            Weekday::Sat => "Sabtu",
            Weekday::Sun => "Minggu",
        }
    }

    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Minutes after midnight, 0..=1440 (1440 is `24:00`, the end of the day).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct ClockTime(u16);

impl ClockTime {
    /// Parses `HH:MM` (or `H:MM`, or `HH.MM` as Indonesians often write it).
    #[must_use]
    pub fn parse(text: &str) -> Option<ClockTime> {
        let (h, m) = text.trim().split_once([':', '.'])?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let h: u16 = h.parse().ok()?;
        let m: u16 = m.parse().ok()?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return None;
        }
        Some(ClockTime(h * 60 + m))
    }

    #[must_use]
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One opening range of a day, `open < close`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TimeRange {
    pub open: ClockTime,
    pub close: ClockTime,
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.open, self.close)
    }
}

/// The week's opening hours; an empty day is closed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Hours {
    /// IANA time zone name, e.g. `Asia/Jakarta`.
    pub timezone: String,
    pub days: [Vec<TimeRange>; 7],
}

impl Hours {
    #[must_use]
    pub fn day(&self, day: Weekday) -> &[TimeRange] {
        &self.days[day.index()]
    }

    /// Whether any day has hours at all (a business may leave hours out).
    #[must_use]
    pub fn is_known(&self) -> bool {
        self.days.iter().any(|d| !d.is_empty())
    }

    /// The short local name Indonesians use for their three zones, if it is one of them.
    #[must_use]
    pub fn local_zone_label(&self) -> Option<&'static str> {
        match self.timezone.as_str() {
            "Asia/Jakarta" | "Asia/Pontianak" => Some("WIB"),
            "Asia/Makassar" => Some("WITA"),
            "Asia/Jayapura" => Some("WIT"),
            _ => None,
        }
    }
}

/// Why a day's hours could not be read.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HoursProblem(pub String);

/// Parses one day: `closed` (or `tutup`, or empty), or comma-separated `HH:MM-HH:MM` ranges
/// in order and not overlapping.
///
/// # Errors
/// A sentence saying what is wrong with the text.
pub fn parse_day(text: &str) -> Result<Vec<TimeRange>, HoursProblem> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("closed") || t.eq_ignore_ascii_case("tutup") {
        return Ok(Vec::new());
    }
    let mut ranges: Vec<TimeRange> = Vec::new();
    for part in t.split(',') {
        let (a, b) = part
            .split_once(['-', '–'])
            .ok_or_else(|| HoursProblem(format!("`{}` is not HH:MM-HH:MM", part.trim())))?;
        let open = ClockTime::parse(a)
            .ok_or_else(|| HoursProblem(format!("`{}` is not a time HH:MM", a.trim())))?;
        let close = ClockTime::parse(b)
            .ok_or_else(|| HoursProblem(format!("`{}` is not a time HH:MM", b.trim())))?;
        if open >= close {
            return Err(HoursProblem(format!(
                "{open}-{close} closes before it opens (overnight ranges: split at 24:00)"
            )));
        }
        if let Some(last) = ranges.last()
            && open < last.close
        {
            return Err(HoursProblem(format!(
                "{open}-{close} overlaps or precedes {last}"
            )));
        }
        ranges.push(TimeRange { open, close });
    }
    Ok(ranges)
}

/// Whether `name` has the shape of an IANA time zone name (`UTC`, `Asia/Jakarta`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+7`). Only the shape and the area are checked.
#[must_use]
pub fn is_iana_zone_name(name: &str) -> bool {
    const AREAS: [&str; 11] = [
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
        "Etc",
    ];
    if name == "UTC" {
        return true;
    }
    let mut parts = name.split('/');
    let Some(area) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    AREAS.contains(&area)
        && !rest.is_empty()
        && rest.len() <= 2
        && rest.iter().all(|p| {
            p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == 'G')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_days() {
        assert!(parse_day("closed").unwrap().is_empty());
        assert!(parse_day("Tutup").unwrap().is_empty());
        let d = parse_day("08:00-12:00, 13:00-17:30").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].to_string(), "13:00–17:30");
        assert_eq!(parse_day("7.00-15.00").unwrap()[0].open.minutes(), 420);
        assert_eq!(parse_day("22:00-24:00").unwrap()[0].close.minutes(), 1440);
    }

    #[test]
    fn refuses_bad_days() {
        for bad in [
            "10-20",
            "10:00",
            "20:00-10:00",
            "25:00-26:00",
            "10:00-12:00, 11:00-13:00",
            "10:61-12:00",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zone_names() {
        for good in [
            "UTC",
            "Asia/Jakarta",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+7",
            "Europe/Berlin",
        ] {
            assert!(is_iana_zone_name(good), "{good}");
        }
        for bad in ["WIB", "GMT+7", "asia/jakarta", "Asia/", "Mars/Olympus", ""] {
            assert!(!is_iana_zone_name(bad), "{bad}");
        }
    }
}
