//! The figures' building blocks: latency histograms in microseconds and the share of a
//! core each process used between two marks.

use super::procfs::{pid_cpu_ticks, proc_cpu_ticks};
use anyhow::{Result, anyhow};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// The largest latency a histogram records: a minute, in microseconds.
pub const HIST_MAX_US: u64 = 60_000_000;

/// A latency histogram, 1 µs to [`HIST_MAX_US`], three significant digits.
///
/// # Errors
/// Never with these bounds; kept for the histogram crate's signature.
pub fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).map_err(|e| anyhow!("histogram: {e:?}"))
}

/// Adds `from` into `into`.
///
/// # Errors
/// The histograms' bounds differ.
pub fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) -> Result<()> {
    into.add(from).map_err(|e| anyhow!("histogram: {e:?}"))
}

/// A duration as whole microseconds for a histogram (at least 1).
#[must_use]
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The quantile `q` in milliseconds.
#[allow(clippy::cast_precision_loss)]
#[must_use]
pub fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// The largest value in milliseconds.
#[allow(clippy::cast_precision_loss)]
#[must_use]
pub fn max_ms(h: &Histogram<u64>) -> f64 {
    h.max() as f64 / 1000.0
}

/// CPU counters of some named processes, and of this program as `bench`, at one moment.
pub struct CpuMark {
    ticks: Vec<(&'static str, Option<u32>, Option<u64>)>,
    at: Instant,
}

/// Percent of one core each process used between two marks, in the mark's order.
#[derive(Clone, Debug, Default)]
pub struct CpuUse(pub Vec<(&'static str, Option<f64>)>);

impl CpuMark {
    /// Marks `processes` (name, pid; `None` when it is not running) and this program.
    #[must_use]
    pub fn take(processes: &[(&'static str, Option<u32>)]) -> CpuMark {
        let mut ticks: Vec<_> = processes
            .iter()
            .map(|(name, pid)| (*name, *pid, pid.and_then(pid_cpu_ticks)))
            .collect();
        ticks.push(("bench", None, proc_cpu_ticks("/proc/self/stat")));
        CpuMark {
            ticks,
            at: Instant::now(),
        }
    }

    /// What each process used since this mark, with `clk_tck` ticks per second.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn since(&self, clk_tck: f64) -> CpuUse {
        let processes: Vec<_> = self
            .ticks
            .iter()
            .filter(|(name, ..)| *name != "bench")
            .map(|(name, pid, _)| (*name, *pid))
            .collect();
        let later = CpuMark::take(&processes);
        let secs = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        CpuUse(
            self.ticks
                .iter()
                .zip(&later.ticks)
                .map(|((name, _, a), (_, _, b))| {
                    let pct = match (a, b) {
                        (Some(a), Some(b)) => {
                            Some(b.saturating_sub(*a) as f64 / clk_tck / secs * 100.0)
                        }
                        _ => None,
                    };
                    (*name, pct)
                })
                .collect(),
        )
    }
}

impl CpuUse {
    /// The share of the process named `name`.
    #[must_use]
    pub fn of(&self, name: &str) -> Option<f64> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v)
    }
}

impl std::fmt::Display for CpuUse {
    /// `relay 93%, bench 41% of a core` (`?` where a counter could not be read).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(name, v)| {
                let v = v.map_or_else(|| "?".to_owned(), |c| format!("{c:.0}%"));
                format!("{name} {v}")
            })
            .collect();
        write!(f, "{} of a core", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_shares_are_named_in_order_with_the_bench_last() {
        let mark = CpuMark::take(&[("relay", Some(std::process::id())), ("sim", None)]);
        let used = mark.since(100.0);
        let names: Vec<_> = used.0.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["relay", "sim", "bench"]);
        assert!(used.of("sim").is_none());
        assert!(used.to_string().starts_with("relay "));
        assert!(used.to_string().ends_with("of a core"));
    }
}
