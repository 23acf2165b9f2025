//! Typo tolerance: the edit distance (with transpositions) between two words, bounded so
//! that comparing a query word with a whole vocabulary stays cheap, and the distance a
//! word's length allows.
//!
//! Short words get no tolerance: `tas` and `tag` are different words, while `cardigen`
//! is surely `cardigan`.

/// Edits a query word of this many characters may be away from a vocabulary word.
#[must_use]
pub fn allowed_edits(chars: usize) -> usize {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Optimal-string-alignment distance between `a` and `b` if it is at most `max`, else
/// `None`. Works on characters; rows stop early once every cell exceeds `max`.
#[must_use]
pub fn within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    let mut prev2: Vec<usize> = vec![0; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: &str, b: &str, max: usize) -> Option<usize> {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        within(&a, &b, max)
    }

    #[test]
    fn distances() {
        assert_eq!(d("cardigen", "cardigan", 2), Some(1));
        assert_eq!(d("croisant", "croissant", 2), Some(1));
        assert_eq!(d("dres", "dress", 1), Some(1));
        assert_eq!(d("focacia", "focaccia", 1), Some(1));
        assert_eq!(d("blazre", "blazer", 1), Some(1));
        assert_eq!(d("allergy", "allergen", 2), Some(2));
        assert_eq!(d("tas", "tag", 0), None);
        assert_eq!(d("linen", "lemon", 1), None);
        assert_eq!(d("", "ab", 2), Some(2));
        assert_eq!(allowed_edits(3), 0);
        assert_eq!(allowed_edits(8), 2);
    }
}
