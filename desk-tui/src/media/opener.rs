//! The system opener: `$BROWSER` (a `:`-separated list, `%s` standing for the URL), then the
//! platform's own (`xdg-open`, `open`). Choosing is pure and tested by table; starting is a
//! detached child with no terminal, so nothing it prints lands on the desk's screen.

use std::process::{Command, Stdio};

/// The platform, for its opener.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Os {
    MacOs,
    Windows,
    /// Linux and the BSDs: freedesktop's `xdg-open`.
    Other,
}

impl Os {
    #[must_use]
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(target_os = "windows") {
            Os::Windows
        } else {
            Os::Other
        }
    }
}

/// The commands to try, in order, to open `url`: program and arguments.
#[must_use]
pub fn candidates(url: &str, browser: Option<&str>, os: Os) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for entry in browser.unwrap_or_default().split(':') {
        let mut words = entry.split_whitespace().map(str::to_owned);
        let Some(program) = words.next() else {
            continue;
        };
        let mut args: Vec<String> = words.collect();
        if args.iter().any(|a| a.contains("%s")) {
            for a in &mut args {
                *a = a.replace("%s", url);
            }
        } else {
            args.push(url.to_owned());
        }
        out.push((program, args));
    }
    let native = match os {
        Os::MacOs => ("open", vec![url.to_owned()]),
        Os::Windows => (
            "cmd",
            vec!["/C".into(), "start".into(), String::new(), url.to_owned()],
        ),
        Os::Other => ("xdg-open", vec![url.to_owned()]),
    };
    out.push((native.0.to_owned(), native.1));
    out
}

/// Starts the first candidate that can be started; its exit is awaited on a thread of its
/// own (a browser may keep running), so no zombie is left.
///
/// # Errors
/// None of the candidates could be started (each reason, joined).
pub fn open(url: &str, browser: Option<&str>, os: Os) -> Result<(), String> {
    let mut reasons = Vec::new();
    for (program, args) in candidates(url, browser, os) {
        let started = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match started {
            Ok(mut child) => {
                std::thread::spawn(move || child.wait());
                return Ok(());
            }
            Err(e) => reasons.push(format!("{program}: {e}")),
        }
    }
    Err(reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[(String, Vec<String>)]) -> Vec<String> {
        list.iter()
            .map(|(p, a)| format!("{p} {}", a.join(" ")))
            .collect()
    }

    #[test]
    fn browser_first_then_the_platforms_opener() {
        let u = "http://127.0.0.1:9/k/0/m/1";
        let table: [(Option<&str>, Os, &[&str]); 5] = [
            (None, Os::Other, &["xdg-open http://127.0.0.1:9/k/0/m/1"]),
            (None, Os::MacOs, &["open http://127.0.0.1:9/k/0/m/1"]),
            (
                Some("firefox:chromium --new-window"),
                Os::Other,
                &[
                    "firefox http://127.0.0.1:9/k/0/m/1",
                    "chromium --new-window http://127.0.0.1:9/k/0/m/1",
                    "xdg-open http://127.0.0.1:9/k/0/m/1",
                ],
            ),
            (
                Some("lynx -dump %s"),
                Os::MacOs,
                &[
                    "lynx -dump http://127.0.0.1:9/k/0/m/1",
                    "open http://127.0.0.1:9/k/0/m/1",
                ],
            ),
            (
                Some(" : "),
                Os::Other,
                &["xdg-open http://127.0.0.1:9/k/0/m/1"],
            ),
        ];
        for (browser, os, want) in table {
            assert_eq!(
                names(&candidates(u, browser, os)),
                want,
                "{browser:?} {os:?}"
            );
        }
    }
}
