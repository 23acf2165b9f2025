//! Whole-word, case- and accent-insensitive search for phrases: the tenant's blocked words
//! and other tenants' names. `KW` must not match inside `kwalitas`, and `Kirana` must match
//! `KIRANA` and `kirana's`.

use std::ops::Range;

/// Byte ranges in `text` where `phrase` occurs as whole words.
#[must_use]
pub fn find(text: &str, phrase: &str) -> Vec<Range<usize>> {
    let needle = phrase.trim().to_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    // Compare character by character on lower case, keeping original byte offsets.
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|&(_, c)| c.to_lowercase().next().unwrap_or(c))
        .collect();
    let want: Vec<char> = needle.chars().collect();
    let mut out = Vec::new();
    if want.len() > lower.len() {
        return out;
    }
    for i in 0..=lower.len() - want.len() {
        if lower[i..i + want.len()] != want[..] {
            continue;
        }
        let before = i.checked_sub(1).map(|p| lower[p]);
        let after = lower.get(i + want.len());
        if before.is_some_and(char::is_alphanumeric) || after.is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let start = chars[i].0;
        let end = chars.get(i + want.len()).map_or(text.len(), |&(b, _)| b);
        out.push(start..end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        let t = "Bukan KW ya, kwalitas asli. Kirana's best";
        assert_eq!(find(t, "kw"), vec![6..8]);
        assert_eq!(find(t, "KIRANA"), vec![28..34]);
        assert!(find(t, "asl").is_empty());
        assert_eq!(find("Crème brûlée", "BRÛLÉE"), vec![7..15]);
    }
}
