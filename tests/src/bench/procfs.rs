//! What the benchmark programs read about processes from Linux's `/proc`: CPU time, the CPU
//! set `taskset` left a process, and the head of a log file for error reports.

use std::path::Path;

/// Clock ticks per second (`getconf CLK_TCK`, 100 if it cannot be read).
pub async fn clock_ticks() -> f64 {
    let out = tokio::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .await;
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of a whole process (all threads), in clock ticks, from its `stat` file.
#[must_use]
pub fn proc_cpu_ticks(stat_path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The command name may contain spaces and parentheses; the fields after the last ')'
    // start at field 3 (state), so utime (field 14) and stime (15) are at 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// [`proc_cpu_ticks`] of a process by pid.
#[must_use]
pub fn pid_cpu_ticks(pid: u32) -> Option<u64> {
    proc_cpu_ticks(&format!("/proc/{pid}/stat"))
}

/// Shows that `taskset` took effect.
#[must_use]
pub fn cpus_allowed(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|s| s.trim().to_owned())
}

/// The first `lines` lines of a file, or nothing.
#[must_use]
pub fn read_head(path: &Path, lines: usize) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.lines().take(lines).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}
