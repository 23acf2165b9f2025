//! Order and repair-ticket numbers in a customer's message (`#1042`, `R-1042`, `SK20931`),
//! so a status can be looked up (in the knowledge or through the owner's hook) before any
//! status is said. A pure function of the text; it looks nothing up itself.
//!
//! A number is a word of three or more digits, optionally with a letter prefix joined by
//! `-` or nothing, or any such word after `#`. Amounts (`$120`, `Rp 350.000`), phone numbers
//! (long digit runs with spaces or `+`), dates (`14/2`) and sizes (`700x25`) are not numbers.

/// The first order or ticket number in `text`.
#[must_use]
pub fn number(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, raw) in words.iter().enumerate() {
        let hashed = raw.starts_with('#') || raw.starts_with("nº") || raw.starts_with("no.");
        // Quotes and brackets around a number quoted from an earlier reply (`«AB-123:`).
        let w = raw
            .trim_start_matches(['#', '(', '«', '"', '\'', '“', '‘', '[', '*'])
            .trim_start_matches("nº")
            .trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        if w.is_empty() || raw.starts_with(['+', '$', '€', '£']) {
            continue;
        }
        let prev = i
            .checked_sub(1)
            .and_then(|p| words.get(p))
            .map(|p| p.to_lowercase());
        if prev
            .as_deref()
            .is_some_and(|p| matches!(p, "rp" | "rp." | "usd" | "eur" | "idr" | "r$" | "$"))
        {
            continue;
        }
        if w.contains(['/', '.', ',', ':', 'x']) && !w.contains('-') {
            continue;
        }
        // A digit group beside other digit groups is part of a phone number.
        let digit_word = |j: Option<usize>| {
            j.and_then(|j| words.get(j)).is_some_and(|n| {
                let n = n.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '+');
                !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '+')
            })
        };
        // A number beside other numbers is part of a phone number or a list; one with
        // letters (`KW-7731 (2 tyres)`) is a number of its own.
        let lettered = w.chars().any(|c| c.is_ascii_alphabetic());
        if !hashed && !lettered && (digit_word(i.checked_sub(1)) || digit_word(Some(i + 1))) {
            continue;
        }
        // "2017 honda civic", `tacoma 2012`: a bare year is a model year, not a number to
        // look up, unless an order word stands before it.
        let year = w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1950..=2039).contains(&y));
        let ordered = prev.as_deref().is_some_and(|p| {
            matches!(
                p.trim_matches(|c: char| !c.is_alphanumeric()),
                "order"
                    | "pedido"
                    | "encomenda"
                    | "pesanan"
                    | "ticket"
                    | "tiket"
                    | "orden"
                    | "number"
                    | "numero"
                    | "nomor"
                    | "no"
            )
        });
        if year && !hashed && !ordered {
            continue;
        }
        let digits = w.chars().filter(char::is_ascii_digit).count();
        // `R-1042`, `SK20931`, and a prefix of letter groups (`HO-R-044`).
        let letters: String = w
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .collect();
        let letters = letters.trim_end_matches('-');
        let rest = &w[letters.len()..];
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        let longest_group = letters.split('-').map(str::len).max().unwrap_or(0);
        let shaped = longest_group <= 4
            && letters.split('-').count() <= 3
            && !rest.is_empty()
            && rest.chars().all(|c| c.is_ascii_digit() || c == '-')
            && (3..=12).contains(&digits);
        if shaped && (hashed || !letters.is_empty() || digits >= 4) {
            return Some(w.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::number;

    #[track_caller]
    fn check(text: &str, expected: Option<&str>) {
        assert_eq!(number(text).as_deref(), expected, "{text}");
    }

    #[test]
    fn numbers_and_not_numbers() {
        check("where is my order #1042?", Some("1042"));
        check("ticket R-1042 ready?", Some("R-1042"));
        check("warranty job HO-R-044 done?", Some("HO-R-044"));
        check("sku AB-CD-EF?", None);
        check("pedido SK20931 ya salió?", Some("SK20931"));
        check("encomenda 558812", Some("558812"));
        check("is it $120?", None);
        check("harga Rp 350.000", None);
        check("call +62 812 1000 2000", None);
        check("size 42 and 3 pcs", None);
        check("tyre 700x25", None);
        check("pickup 14/2", None);
        check("my order hasn't arrived", None);
        check("key fob for a 2017 civic?", None);
        check("order 2017 shipped?", Some("2017"));
        check("order KW-7731 (2 tyres) arrived?", Some("KW-7731"));
    }
}
