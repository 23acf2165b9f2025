//! Graph API URLs built from a configured base and path segments, each segment
//! percent-encoded as one segment (`/`, `?`, `#`, `%` and spaces cannot change the path,
//! `.` and `..` are dropped), never pasted into a string. Ids reaching here are already
//! checked (`meta_id`); this is the second wall.

use reqwest::Url;

/// `base` with query parameters, percent-encoded (connect links, OAuth redirects, the
/// simulator's consent pages).
#[must_use]
pub fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    match Url::parse_with_params(base, params) {
        Ok(u) => u.to_string(),
        // Configured bases are URLs; should one not be, the browser gets a plain join.
        Err(_) => {
            let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{base}?{}", q.join("&"))
        }
    }
}

/// Why a URL could not be built: the configured base is not a URL that takes a path.
#[derive(Debug, thiserror::Error)]
#[error("the Graph base URL is not usable: {0}")]
pub struct BadBase(String);

/// `base` + `/seg1/seg2/…`, each segment encoded.
///
/// # Errors
/// `base` does not parse as a URL with a path.
pub fn build(base: &str, segments: &[&str]) -> Result<Url, BadBase> {
    let mut url = Url::parse(base).map_err(|e| BadBase(e.to_string()))?;
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| BadBase("it cannot have a path".into()))?;
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    Ok(url)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[track_caller]
    fn path(base: &str, segs: &[&str]) -> String {
        let u = build(base, segs).unwrap();
        assert_eq!(u.query(), None, "{u}");
        assert_eq!(u.fragment(), None, "{u}");
        u.path().to_owned()
    }

    #[test]
    fn every_segment_stays_one_segment() {
        let b = "http://127.0.0.1:9";
        assert_eq!(path(b, &["v23.0", "123", "replies"]), "/v23.0/123/replies");
        assert_eq!(
            path("https://g.example/base/", &["v23.0", "1"]),
            "/base/v23.0/1"
        );
        assert_eq!(
            path(b, &["v23.0", "me/subscribed_apps"]),
            "/v23.0/me%2Fsubscribed_apps"
        );
        assert_eq!(
            path(b, &["v23.0", "../../_sim/x?y=1#"]),
            "/v23.0/..%2F..%2F_sim%2Fx%3Fy=1%23"
        );
        assert_eq!(path(b, &["v23.0", ".."]), "/v23.0");
        assert_eq!(path(b, &["v23.0", "%2F"]), "/v23.0/%252F");
        assert_eq!(path(b, &["v23.0", "a b"]), "/v23.0/a%20b");
        assert_eq!(path(b, &["v23.0", "é"]), "/v23.0/%C3%A9");
    }

    #[test]
    fn a_base_without_a_path_is_refused() {
        assert!(build("mailto:x@y", &["1"]).is_err());
        assert!(build("not a url", &["1"]).is_err());
    }
}
