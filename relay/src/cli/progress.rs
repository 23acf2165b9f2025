//! Progress of the long operations (`relay admin`'s audit export, key rotation and tenant
//! deletion; `relay migrate`): an indicatif bar or spinner on a terminal, plain lines on
//! standard error otherwise (logs, CI, pipes), and a final count either way. Standard
//! output stays for the operation's own output (an export's JSON lines).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// One operation's progress.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    what: String,
    total: Option<u64>,
    done: u64,
    /// The last count a plain line reported, so pages do not print one line each.
    reported: u64,
}

impl Progress {
    /// Starts a progress of `total` steps (`None`: unknown, a spinner) named `what`.
    pub(super) fn start(what: &str, total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(n) => ProgressBar::new(n).with_style(
                    ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                ),
                None => ProgressBar::new_spinner(),
            };
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            match total {
                Some(n) => eprintln!("{what}: 0/{n}"),
                None => eprintln!("{what}..."),
            }
        }
        Progress {
            bar,
            what: what.to_owned(),
            total,
            done: 0,
            reported: 0,
        }
    }

    /// `n` more steps done.
    pub(super) fn advance(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            // About ten plain lines per operation, whatever its size.
            None => {
                let step = self.total.map_or(1000, |t| (t / 10).max(1));
                if self.done - self.reported >= step {
                    self.reported = self.done;
                    match self.total {
                        Some(t) => eprintln!("{}: {}/{t}", self.what, self.done),
                        None => eprintln!("{}: {}", self.what, self.done),
                    }
                }
            }
        }
    }

    /// Ends the bar and prints the final line, e.g. "exported 1200 events".
    pub(super) fn finish(self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("{line}");
    }
}
