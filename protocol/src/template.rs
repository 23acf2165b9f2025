//! WhatsApp template bodies as text: which `{{n}}` placeholders a body has, and the text the
//! customer will read once they are filled.
//!
//! Meta fills a body's placeholders from the send's body parameters by position: the first
//! parameter is `{{1}}`, the second `{{2}}`. The desk previews a template with these rules
//! before sending and the simulator counts parameters with them, so both read a body the same
//! way. Nothing here checks a template against Meta's catalog; that is Meta's answer.

/// The distinct placeholders of `body` (their inner text, trimmed: `"1"`, `"2"`), in the
/// order their parameters are given: numerically when all are numbers (`{{2}} … {{1}}` still
/// takes `{{1}}` first), else in order of first use.
#[must_use]
pub fn placeholders(body: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for (_, name) in spans(body) {
        if !seen.iter().any(|s| s == name) {
            seen.push(name.to_owned());
        }
    }
    if seen.iter().all(|s| s.parse::<u32>().is_ok()) {
        seen.sort_by_key(|s| s.parse::<u32>().unwrap_or(u32::MAX));
    }
    seen
}

/// `body` with each placeholder replaced by its parameter; a placeholder without a
/// parameter (or with an empty one) stays as written, so a preview shows what is missing.
#[must_use]
pub fn fill(body: &str, params: &[String]) -> String {
    let order = placeholders(body);
    let mut out = String::with_capacity(body.len());
    let mut rest = 0;
    for (range, name) in spans(body) {
        out.push_str(&body[rest..range.start]);
        let value = order
            .iter()
            .position(|p| p == name)
            .and_then(|i| params.get(i))
            .filter(|v| !v.is_empty());
        match value {
            Some(v) => out.push_str(v),
            None => out.push_str(&body[range.clone()]),
        }
        rest = range.end;
    }
    out.push_str(&body[rest..]);
    out
}

/// Every `{{ name }}` of `body`: its byte range and its trimmed inner text.
fn spans(body: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = body[from..].find("{{").map(|i| from + i) {
        let Some(close) = body[open + 2..].find("}}").map(|i| open + 2 + i) else {
            break;
        };
        let name = body[open + 2..close].trim();
        if !name.is_empty() {
            found.push((open..close + 2, name));
        }
        from = close + 2;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, params: &[&str], names: &[&str], filled: &str) {
        assert_eq!(placeholders(body), names);
        let params: Vec<String> = params.iter().map(|&p| p.to_owned()).collect();
        assert_eq!(fill(body, &params), filled);
    }

    #[test]
    fn placeholders_fill_by_position() {
        check("Hi {{1}}", &["Ana"], &["1"], "Hi Ana");
        check(
            "Hi {{1}}, order {{2}} ships {{ 2 }} soon",
            &["Ana", "#1"],
            &["1", "2"],
            "Hi Ana, order #1 ships #1 soon",
        );
        check("{{2}} then {{1}}", &["a", "b"], &["1", "2"], "b then a");
        check("Hi {{1}} {{2}}", &["Ana"], &["1", "2"], "Hi Ana {{2}}");
        check("Hi {{1}}", &[""], &["1"], "Hi {{1}}");
        check("Hi {{name}}", &["Ana"], &["name"], "Hi Ana");
        check("no placeholders", &[], &[], "no placeholders");
        check("broken {{1", &["x"], &[], "broken {{1");
        check("empty {{}} {{1}}", &["x"], &["1"], "empty {{}} x");
        check("ünï {{1}}ß", &["Ä"], &["1"], "ünï Äß");
    }
}
