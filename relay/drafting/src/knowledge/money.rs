//! Prices: an amount in integer minor units of an ISO 4217 currency, and how a customer
//! expects to read it (`Rp 350.000`, `$12.50`, `€9,90`).
//!
//! Amounts are integers so that a price can never drift by a rounding error between the
//! catalog, the draft and the safety classifier's comparison. This module does not convert
//! between currencies and does not know exchange rates.

use std::fmt;

/// A three-letter ISO 4217 currency code, upper case (`IDR`, `USD`, `EUR`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const IDR: Currency = Currency(*b"IDR");
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    /// Parses a code of exactly three ASCII upper-case letters; `None` otherwise.
    #[must_use]
    pub fn parse(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Currency(bytes))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        // The constructor admits only ASCII upper-case letters, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point in how the currency is written in practice.
    ///
    /// The rupiah is 2 in ISO 4217, but sen have not circulated for decades and shops write
    /// whole rupiah (`Rp 350.000`), so catalog prices in IDR are whole rupiah.
    #[must_use]
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"IDR" | b"JPY" | b"KRW" | b"VND" | b"CLP" | b"ISK" => 0,
            b"KWD" | b"BHD" | b"OMR" | b"JOD" | b"TND" => 3,
            _ => 2,
        }
    }

    /// How many minor units make one major unit (100 for cents).
    #[must_use]
    pub fn minor_per_major(&self) -> i64 {
        10_i64.pow(self.exponent())
    }

    fn style(&self) -> Style {
        match &self.0 {
            b"IDR" => Style::prefix("Rp ", '.', ','),
            b"USD" => Style::prefix("$", ',', '.'),
            b"EUR" => Style::prefix("€", '.', ','),
            b"GBP" => Style::prefix("£", ',', '.'),
            b"JPY" => Style::prefix("¥", ',', '.'),
            b"SGD" => Style::prefix("S$", ',', '.'),
            b"AUD" => Style::prefix("A$", ',', '.'),
            b"MYR" => Style::prefix("RM ", ',', '.'),
            b"BRL" => Style::prefix("R$ ", '.', ','),
            b"MXN" => Style::prefix("MX$", ',', '.'),
            _ => Style {
                prefix: None,
                thousands: ',',
                decimal: '.',
            },
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

/// Where the symbol goes and which separators the currency's customers expect.
struct Style {
    /// Symbol before the amount; `None` writes the code after it (`1,234.00 CHF`).
    prefix: Option<&'static str>,
    thousands: char,
    decimal: char,
}

impl Style {
    fn prefix(prefix: &'static str, thousands: char, decimal: char) -> Style {
        Style {
            prefix: Some(prefix),
            thousands,
            decimal,
        }
    }
}

/// An amount of one currency, in minor units (whole rupiah, US cents, euro cents).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    #[must_use]
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }
}

impl fmt::Display for Money {
    /// `Rp 350.000`, `$12.50`, `€9,90`, `$1,250.00`, `1,234.50 CHF`; negatives get a leading `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let style = self.currency.style();
        let exponent = self.currency.exponent();
        let per = self.currency.minor_per_major().unsigned_abs();
        let abs = self.minor.unsigned_abs();
        let (major, minor) = (abs / per, abs % per);
        let mut out = String::new();
        if self.minor < 0 {
            out.push('-');
        }
        if let Some(prefix) = style.prefix {
            out.push_str(prefix);
        }
        out.push_str(&group(major, style.thousands));
        if exponent > 0 {
            out.push(style.decimal);
            let width = usize::try_from(exponent).unwrap_or(2);
            out.push_str(&format!("{minor:0width$}"));
        }
        if style.prefix.is_none() {
            out.push(' ');
            out.push_str(self.currency.as_str());
        }
        f.write_str(&out)
    }
}

/// `1234567` → `1.234.567` with `.` as the separator.
fn group(n: u64, sep: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[track_caller]
    fn check(minor: i64, code: &str, expected: &str) {
        let money = Money::new(minor, Currency::parse(code).unwrap());
        assert_eq!(money.to_string(), expected);
    }

    #[test]
    fn formats_per_currency() {
        check(350_000, "IDR", "Rp 350.000");
        check(1_250_000, "IDR", "Rp 1.250.000");
        check(0, "IDR", "Rp 0");
        check(999, "IDR", "Rp 999");
        check(1250, "USD", "$12.50");
        check(125_000, "USD", "$1,250.00");
        check(5, "USD", "$0.05");
        check(990, "EUR", "€9,90");
        check(123_456, "EUR", "€1.234,56");
        check(1000, "JPY", "¥1,000");
        check(123_450, "CHF", "1,234.50 CHF");
        check(-1250, "USD", "-$12.50");
    }

    #[test]
    fn codes_are_three_upper_case_letters() {
        assert!(Currency::parse("IDR").is_some());
        assert!(Currency::parse("idr").is_none());
        assert!(Currency::parse("RP").is_none());
        assert!(Currency::parse("US$").is_none());
        assert!(Currency::parse("EURO").is_none());
        assert_eq!(Currency::IDR.exponent(), 0);
        assert_eq!(Currency::USD.minor_per_major(), 100);
    }
}
