//! Links in text: finding URLs and bare domains (`kirana.example/sale`), and whether a host
//! falls within a tenant's allowed link domains.
//!
//! Shared by knowledge validation (every URL a tenant writes must be on its own domains) and
//! the safety classifier (every link in a draft must be). This is a scanner for the shapes
//! people type in chats, not a full URL parser: it never resolves, fetches or normalizes
//! internationalized names.

use std::ops::Range;

/// A link found in text: where it is, and its host in lower case.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkSpan {
    pub range: Range<usize>,
    pub host: String,
}

/// Top-level domains recognised in bare domains (`shop.co.id`): without a scheme, a word is a
/// domain only if it ends in one of these, so `Rp 350.000` or `e.g.` never are.
const TLDS: &[&str] = &[
    "com", "net", "org", "id", "io", "co", "me", "app", "shop", "store", "biz", "info", "xyz",
    "online", "site", "ac", "sch", "go", "gov", "edu", "uk", "au", "sg", "my", "us", "de", "fr",
    "nl", "ly", "gg", "tv", "ai", "dev", "page", "link", "bio", "cc", "asia", "example", "ph",
    "vn", "th", "jp", "in", "ca", "eu", "es", "it", "ru", "cn", "kr", "tk", "to", "top", "club",
    "fashion", "boutique", "cake", "cafe", "tech", "live", "news", "blog", "web",
];

/// The host of a URL (`https://www.Kirana.example/p?x` → `www.kirana.example`); `None` when
/// the text is not an `http(s)://` URL with a host.
#[must_use]
pub fn host_of(url: &str) -> Option<String> {
    let lower = url.trim();
    let rest = strip_scheme(lower)?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    is_host(host).then(|| host.to_ascii_lowercase())
}

fn strip_scheme(s: &str) -> Option<&str> {
    let lower = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    if lower.starts_with("https://") {
        s.get(8..)
    } else if lower.starts_with("http://") {
        s.get(7..)
    } else {
        None
    }
}

/// At least two dot-separated labels of letters, digits and hyphens.
fn is_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        })
}

/// Whether `host` is one of `allowed` or a subdomain of one (`www.kirana.example` is within
/// `kirana.example`; `kirana.example.evil.com` is not).
#[must_use]
pub fn domain_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|d| {
        let d = d.trim().trim_start_matches("*.").to_ascii_lowercase();
        !d.is_empty()
            && (host == d
                || host
                    .strip_suffix(d.as_str())
                    .is_some_and(|p| p.ends_with('.')))
    })
}

/// Every URL (`https://…`, `www.…`) and bare domain (`name.tld…`) in `text`, with byte
/// ranges into `text`. E-mail addresses are not links (their `@` excludes the word).
#[must_use]
pub fn find_links(text: &str) -> Vec<LinkSpan> {
    let mut out = Vec::new();
    for (start, word) in words(text) {
        let (lead, word) = trim_word(word);
        let start = start + lead;
        if word.is_empty() || word.contains('@') {
            continue;
        }
        let host = if let Some(h) = host_of(word) {
            Some(h)
        } else {
            let host_part = word.split(['/', '?', '#']).next().unwrap_or("");
            let host_part = host_part.split(':').next().unwrap_or("");
            let tld = host_part.rsplit('.').next().unwrap_or("");
            (is_host(host_part)
                && tld.chars().all(|c| c.is_ascii_alphabetic())
                && TLDS.contains(&tld.to_ascii_lowercase().as_str()))
            .then(|| host_part.to_ascii_lowercase())
        };
        if let Some(host) = host {
            out.push(LinkSpan {
                range: start..start + word.len(),
                host,
            });
        }
    }
    out
}

/// Whitespace-separated words with their byte offsets.
pub(crate) fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace().map(move |w| {
        // `split_whitespace` yields subslices of `text`, so the offset is the pointer distance.
        let offset = w.as_ptr() as usize - text.as_ptr() as usize;
        (offset, w)
    })
}

/// Strips the punctuation that surrounds a link in prose; returns the bytes cut at the front.
fn trim_word(word: &str) -> (usize, &str) {
    let front = word.trim_start_matches(['(', '[', '{', '"', '\'', '<', '“', '‘']);
    let lead = word.len() - front.len();
    let trimmed = front.trim_end_matches([
        '.', ',', '!', '?', ';', ':', ')', ']', '}', '"', '\'', '>', '”', '’',
    ]);
    (lead, trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<String> {
        find_links(text).into_iter().map(|l| l.host).collect()
    }

    #[test]
    fn finds_links_and_domains() {
        assert_eq!(
            hosts("Cek https://www.Kirana.example/p/dress?x=1, atau kirana.example/sale."),
            vec!["www.kirana.example", "kirana.example"]
        );
        assert_eq!(hosts("lihat (shopee.co.id/kirana)"), vec!["shopee.co.id"]);
        assert!(hosts("Harga Rp 350.000, e.g. ukuran S.M.L").is_empty());
        assert!(hosts("email halo@kirana.example ya").is_empty());
        let text = "di toko.com!";
        let l = &find_links(text)[0];
        assert_eq!(&text[l.range.clone()], "toko.com");
    }

    #[test]
    fn allowed_domains_include_subdomains_only() {
        let allowed = vec!["kirana.example".to_string()];
        assert!(domain_allowed("kirana.example", &allowed));
        assert!(domain_allowed("www.kirana.example", &allowed));
        assert!(!domain_allowed("kirana.example.evil.com", &allowed));
        assert!(!domain_allowed("notkirana.example", &allowed));
        assert_eq!(
            host_of("https://user@Shop.Example:8443/x").as_deref(),
            Some("shop.example")
        );
        assert_eq!(host_of("ftp://x.com"), None);
    }
}
